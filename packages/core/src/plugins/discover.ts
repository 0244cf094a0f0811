import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeRegistry, PluginSource } from '../registry/registry.js';
import type { KinegraphPlugin } from '../sdk/plugin.js';
import { PLUGIN_API_VERSION } from '../sdk/plugin.js';
import { KinegraphError, type SerializedError, serializeError } from '../util/errors.js';
import { DEFAULT_GRANTS, type GrantsTable, type PluginGrants } from './grants.js';
import { pluginHostScript } from './host-script.js';
import { instantiatePlugin } from './instantiate.js';
import { IsolatedPlugin } from './isolated-plugin.js';
import { IsolatedPlugins, Limit } from './isolated-plugins.js';
import { findInstalled } from './read-paths.js';
import type { NetworkIsolation } from './sandbox.js';

/** A plugin package found on disk, before it is loaded. */
export interface PluginCandidate {
  readonly package: string;
  readonly version?: string;
  /** Absolute package folder (symlinks resolved). */
  readonly dir: string;
  /** Where it was found: the `plugins/` folder or `node_modules`. */
  readonly origin: 'plugins-folder' | 'node_modules';
  readonly apiVersion: unknown;
  /** Entry files relative to `dir`. */
  readonly entries: readonly string[];
  /** Subgraph blueprint files (`kinegraph/blueprint@1` JSON) relative to `dir`. */
  readonly blueprints?: readonly string[];
}

/**
 * How a loaded plugin runs: in this process (the built-in library, plugins registered in code, and
 * plugins the user exempted), or isolated in a process of its own with its grants.
 */
export type PluginIsolation =
  | { readonly mode: 'in-process'; readonly reason: string }
  | {
      readonly mode: 'isolated';
      readonly grants: PluginGrants;
      readonly network: NetworkIsolation;
      /** Folders it reads besides the run's: its package and its dependencies. */
      readonly reads: readonly string[];
    };

/** What discovery did: what loaded, from where, how it runs, and what did not load and why. */
export interface DiscoveryReport {
  readonly loaded: Array<{
    name: string;
    nodeTypes: string[];
    source: PluginSource;
    origin: PluginCandidate['origin'];
    isolation: PluginIsolation;
  }>;
  readonly failed: Array<{ package: string; path: string; error: SerializedError }>;
}

interface KinegraphPackageField {
  apiVersion?: unknown;
  plugins?: unknown;
  blueprints?: unknown;
}

/**
 * Finds plugin packages of a project: subfolders of `<projectDir>/plugins` (and of `extraFolders`), and
 * npm packages in `<projectDir>/node_modules` (scoped too) whose package.json has a `kinegraph` key. Only
 * the project's own folders: a `node_modules` in a folder above the project is never read, so a package
 * installed there cannot run code when Kinegraph runs in the project. The built-in node library is found
 * the same way (it is an npm package with that key); core never imports it.
 */
export async function findPlugins(
  projectDir: string,
  extraFolders: readonly string[] = [],
): Promise<PluginCandidate[]> {
  // Every package folder first, then their package.json files: a project's node_modules holds hundreds of
  // packages, and reading them one await after another was ≈ 30 ms of every start (see readCandidate).
  const dirs: Array<{ dir: string; origin: PluginCandidate['origin'] }> = [];
  for (const folder of [resolve(projectDir, 'plugins'), ...extraFolders.map((f) => resolve(projectDir, f))]) {
    for (const name of await listDir(folder)) dirs.push({ dir: join(folder, name), origin: 'plugins-folder' });
  }
  const modules = join(resolve(projectDir), 'node_modules');
  const names = (await listDir(modules)).filter((name) => !name.startsWith('.'));
  const scopes = await Promise.all(
    names.map(async (name) =>
      name.startsWith('@') ? (await listDir(join(modules, name))).map((scoped) => join(name, scoped)) : [name],
    ),
  );
  for (const name of scopes.flat()) dirs.push({ dir: join(modules, name), origin: 'node_modules' });
  const candidates = dirs.map(({ dir, origin }) => readCandidate(dir, origin));
  // The first place a package folder was found wins (plugins/ before node_modules).
  const found = new Map<string, PluginCandidate>();
  for (const candidate of candidates) if (candidate && !found.has(candidate.dir)) found.set(candidate.dir, candidate);
  // The built-in library first, then the rest by name: load order, and so duplicate reports, are stable.
  return [...found.values()].sort((a, b) => rank(a) - rank(b) || a.package.localeCompare(b.package));
}

function rank(candidate: PluginCandidate): number {
  return candidate.package === '@kinegraph/nodes' ? 0 : 1;
}

// Synchronous on purpose: a package.json is a few KB, and a read costs ≈ 20 µs this way against ≈ 0.2 ms
// of promise and thread-pool round trips (open, stat, read, close) the async way; discovery runs once,
// when a runtime is created.
function readCandidate(dir: string, origin: PluginCandidate['origin']): PluginCandidate | undefined {
  let pkg: { name?: string; version?: string; kinegraph?: KinegraphPackageField };
  try {
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    // Most packages are not plugins: skip parsing what cannot have the key.
    if (!text.includes('"kinegraph"')) return undefined;
    pkg = JSON.parse(text) as typeof pkg;
  } catch {
    return undefined;
  }
  if (!pkg.kinegraph || typeof pkg.kinegraph !== 'object') return undefined;
  const entries = Array.isArray(pkg.kinegraph.plugins)
    ? pkg.kinegraph.plugins.filter((e): e is string => typeof e === 'string')
    : [];
  const blueprints = Array.isArray(pkg.kinegraph.blueprints)
    ? pkg.kinegraph.blueprints.filter((e): e is string => typeof e === 'string')
    : [];
  return {
    // A name is printed to your terminal: no control characters (escape sequences) in it.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
    package: typeof pkg.name === 'string' ? pkg.name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd') : dir,
    ...(pkg.version ? { version: pkg.version } : {}),
    dir: realpathSync(dir),
    origin,
    apiVersion: pkg.kinegraph.apiVersion,
    entries,
    ...(blueprints.length ? { blueprints } : {}),
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory()) return [];
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Options of {@link loadPlugins}. */
export interface LoadOptions {
  /** The user's grants (`kinegraph.grants.json`); default: none beyond the sandbox. */
  readonly grants?: GrantsTable;
  /**
   * Whether discovered plugins run isolated (default true). False loads every plugin into this process
   * with all of its rights, as before isolation existed: only for plugins you wrote (and benchmarks).
   */
  readonly isolate?: boolean;
  /** Where the output of plugin processes goes, a line at a time (default: stderr). */
  readonly log?: (line: string) => void;
}

/** What {@link loadPlugins} did, and the plugin processes it manages. */
export interface LoadedPlugins extends DiscoveryReport {
  readonly isolated: IsolatedPlugins;
}

/**
 * Loads candidates into the registry. The built-in node library (the copy installed next to this core)
 * loads into this process; every other plugin is isolated (`isolated-plugin.ts`) unless the user's grants
 * say `"isolate": false`. A plugin whose API version is unsupported, whose entry is missing or throws, or
 * that clashes with one already loaded is reported and skipped; the rest load.
 */
export async function loadPlugins(
  candidates: readonly PluginCandidate[],
  registry: NodeRegistry,
  options: LoadOptions = {},
): Promise<LoadedPlugins> {
  const report: DiscoveryReport = { loaded: [], failed: [] };
  const isolated = new IsolatedPlugins();
  const builtin = builtinLibraryDir();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // A project with dozens of plugins must not start dozens of Node processes at once.
  const starts = new Limit(Math.max(2, availableParallelism()));
  // Isolated packages are described in their own processes, all at once; registering stays in order.
  const prepared = candidates.map((candidate) => {
    const fail = (code: string, message: string, hint: string) => ({
      failed: [{ package: candidate.package, path: candidate.dir, error: { code, message, hint } }],
    });
    if (candidate.apiVersion !== PLUGIN_API_VERSION) {
      return Promise.resolve(
        fail(
          'PLUGIN_API_UNSUPPORTED',
          `${candidate.package} declares kinegraph.apiVersion ${JSON.stringify(candidate.apiVersion)}; this runtime supports ${PLUGIN_API_VERSION}.`,
          `Install a release of ${candidate.package} made for plugin API ${PLUGIN_API_VERSION}.`,
        ),
      );
    }
    // Blueprint files are data, read here whatever runs the package's code.
    let blueprints: object[];
    try {
      blueprints = readBlueprints(candidate);
    } catch (error) {
      return Promise.resolve({
        failed: [{ package: candidate.package, path: candidate.dir, error: serializeError(error) }],
      });
    }
    if (!candidate.entries.length && blueprints.length) {
      // A package of blueprints only: no code to load.
      return Promise.resolve({
        entries: [
          {
            plugin: { name: candidate.package, blueprints },
            source: sourceOf(candidate, candidate.dir),
            origin: candidate.origin,
            isolation: { mode: 'in-process', reason: 'blueprints only, no code' } as PluginIsolation,
          },
        ],
      });
    }
    if (!candidate.entries.length) {
      return Promise.resolve(
        fail(
          'PLUGIN_INVALID',
          `${candidate.package} lists no entry files in kinegraph.plugins.`,
          'Add "plugins": ["dist/index.js"] to the package\u2019s "kinegraph" field.',
        ),
      );
    }
    const grants = options.grants?.for(candidate.package) ?? DEFAULT_GRANTS;
    const inProcess =
      candidate.dir === builtin
        ? 'the built-in node library'
        : options.isolate === false
          ? 'isolation is off for this runtime'
          : !grants.isolate
            ? '"isolate": false in kinegraph.grants.json'
            : undefined;
    const loading =
      inProcess === undefined
        ? starts.run(() => describeIsolated(candidate, grants, isolated, log))
        : loadInProcess(candidate, { mode: 'in-process', reason: inProcess });
    return blueprints.length ? loading.then((p) => withBlueprints(p, blueprints)) : loading;
  });
  for (const pending of prepared) {
    const { entries = [], failed = [] } = (await pending) as Awaited<ReturnType<typeof describeIsolated>>;
    report.failed.push(...failed);
    for (const { plugin, source, origin, isolation } of entries) {
      try {
        registry.register(plugin, source);
        report.loaded.push({
          name: plugin.name,
          nodeTypes: (plugin.nodes ?? []).flatMap((n) => (n ? [n.type] : [])),
          source,
          origin,
          isolation,
        });
      } catch (error) {
        report.failed.push({ package: source.package, path: source.path ?? '', error: serializeError(error) });
      }
    }
  }
  return { ...report, isolated };
}

type Prepared = {
  entries?: Array<{
    plugin: KinegraphPlugin;
    source: PluginSource;
    origin: PluginCandidate['origin'];
    isolation: PluginIsolation;
  }>;
  failed?: DiscoveryReport['failed'];
};

async function loadInProcess(candidate: PluginCandidate, isolation: PluginIsolation): Promise<Prepared> {
  const out: Required<Prepared> = { entries: [], failed: [] };
  for (const entry of candidate.entries) {
    const file = resolve(candidate.dir, entry);
    const source = sourceOf(candidate, file);
    try {
      out.entries.push({ plugin: await instantiatePlugin(file), source, origin: candidate.origin, isolation });
    } catch (error) {
      out.failed.push({ package: candidate.package, path: file, error: loadFailure(candidate, entry, error) });
    }
  }
  return out;
}

async function describeIsolated(
  candidate: PluginCandidate,
  grants: PluginGrants,
  isolated: IsolatedPlugins,
  log: (line: string) => void,
): Promise<Prepared> {
  const out: Required<Prepared> = { entries: [], failed: [] };
  let plugin: IsolatedPlugin;
  let described: Awaited<ReturnType<IsolatedPlugin['describe']>>;
  try {
    plugin = new IsolatedPlugin(
      { package: candidate.package, dir: candidate.dir, entries: candidate.entries },
      grants,
      { hostScript: pluginHostScript(), log },
    );
    described = await plugin.describe();
  } catch (error) {
    out.failed.push({ package: candidate.package, path: candidate.dir, error: loadFailure(candidate, '', error) });
    return out;
  }
  isolated.add(plugin);
  for (const { entry, plugin: proxy, error } of described) {
    const file = resolve(candidate.dir, entry);
    if (!proxy) {
      out.failed.push({
        package: candidate.package,
        path: file,
        error: {
          code: error?.code ?? 'PLUGIN_LOAD_FAILED',
          message: error?.message ?? `${candidate.package} failed to load`,
          hint: error?.hint ?? `Check that ${entry} exists (is the plugin built?) and loads without errors.`,
        },
      });
      continue;
    }
    out.entries.push({
      plugin: proxy,
      source: sourceOf(candidate, file),
      origin: candidate.origin,
      isolation: {
        mode: 'isolated',
        grants,
        // Asked for only by reports (`kinegraph plugins`): other commands need not probe the machine.
        get network() {
          return plugin.network;
        },
        reads: [...plugin.packagePaths],
      },
    });
  }
  return out;
}

/** Reads a package's blueprint files; a missing or malformed file is a coded error that fails the package. */
function readBlueprints(candidate: PluginCandidate): object[] {
  return (candidate.blueprints ?? []).map((relative) => {
    const file = resolve(candidate.dir, relative);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new KinegraphError(
        'BLUEPRINT_INVALID',
        `${candidate.package} lists blueprint ${relative}, which cannot be read.`,
        {
          hint: 'Check the "blueprints" paths in the package\u2019s "kinegraph" field (relative to the package folder).',
        },
      );
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      return parsed;
    } catch (error) {
      throw new KinegraphError(
        'BLUEPRINT_INVALID',
        `Blueprint ${relative} of ${candidate.package} is not JSON: ${(error as Error).message}.`,
        {
          hint: 'A blueprint is a kinegraph/blueprint@1 JSON document.',
        },
      );
    }
  });
}

/** The package's blueprint files go with its first plugin. */
function withBlueprints(prepared: Prepared, blueprints: object[]): Prepared {
  const [first, ...rest] = prepared.entries ?? [];
  if (!first) return prepared;
  const plugin = { ...first.plugin, blueprints: [...(first.plugin.blueprints ?? []), ...blueprints] };
  return { ...prepared, entries: [{ ...first, plugin }, ...rest] };
}

function sourceOf(candidate: PluginCandidate, file: string): PluginSource {
  return { package: candidate.package, ...(candidate.version ? { version: candidate.version } : {}), path: file };
}

function loadFailure(candidate: PluginCandidate, entry: string, error: unknown): SerializedError {
  const serialized = serializeError(error);
  // Our own coded errors (duplicates, bad types, a missing host) say what is wrong; anything else is a load failure.
  return error instanceof KinegraphError
    ? serialized
    : {
        code: 'PLUGIN_LOAD_FAILED',
        message: `${candidate.package} failed to load: ${serialized.message}`,
        hint: `Check that ${entry || 'its entry'} exists (is the plugin built?) and loads without errors.`,
      };
}

/** The folder of the built-in node library installed next to this core, if any (its real path). */
function builtinLibraryDir(): string | undefined {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    const found = findInstalled('@kinegraph/nodes', realpathSync(dir));
    return found ? realpathSync(found) : undefined;
  } catch {
    return undefined;
  }
}
