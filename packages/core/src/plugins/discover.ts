import { readFileSync, realpathSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NodeRegistry, PluginSource } from '../registry/registry.js';
import type { KinegraphPlugin } from '../sdk/plugin.js';
import { PLUGIN_API_VERSION } from '../sdk/plugin.js';
import { KinegraphError, type SerializedError, serializeError } from '../util/errors.js';

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

/** What discovery did: what loaded, from where, and what did not and why. */
export interface DiscoveryReport {
  readonly loaded: Array<{
    name: string;
    nodeTypes: string[];
    source: PluginSource;
    origin: PluginCandidate['origin'];
  }>;
  readonly failed: Array<{ package: string; path: string; error: SerializedError }>;
}

interface KinegraphPackageField {
  apiVersion?: unknown;
  plugins?: unknown;
  blueprints?: unknown;
}

/**
 * Finds plugin packages: subfolders of `<cwd>/plugins`, and npm packages in the `node_modules` folders
 * from `cwd` up to the filesystem root whose package.json has a `kinegraph` key. The built-in node library
 * is found the same way (it is an npm package with that key); core never imports it.
 */
export async function findPlugins(cwd: string, extraFolders: readonly string[] = []): Promise<PluginCandidate[]> {
  // Every package folder first, then their package.json files: a project's node_modules holds hundreds of
  // packages, and reading them one await after another was ≈ 30 ms of every start (see readCandidate).
  const dirs: Array<{ dir: string; origin: PluginCandidate['origin'] }> = [];
  for (const folder of [resolve(cwd, 'plugins'), ...extraFolders.map((f) => resolve(cwd, f))]) {
    for (const name of await listDir(folder)) dirs.push({ dir: join(folder, name), origin: 'plugins-folder' });
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const modules = join(dir, 'node_modules');
    const names = (await listDir(modules)).filter((name) => !name.startsWith('.'));
    const scopes = await Promise.all(
      names.map(async (name) =>
        name.startsWith('@') ? (await listDir(join(modules, name))).map((scoped) => join(name, scoped)) : [name],
      ),
    );
    for (const name of scopes.flat()) dirs.push({ dir: join(modules, name), origin: 'node_modules' });
    if (dirname(dir) === dir) break;
  }
  const candidates = dirs.map(({ dir, origin }) => readCandidate(dir, origin));
  // The first place a package folder was found wins (plugins/ before node_modules, nearer before farther).
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
    package: pkg.name ?? dir,
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

/**
 * Loads candidates into the registry. A plugin whose API version is unsupported, whose entry is missing or
 * throws, or that clashes with one already loaded is reported and skipped; the rest load.
 */
export async function loadPlugins(
  candidates: readonly PluginCandidate[],
  registry: NodeRegistry,
): Promise<DiscoveryReport> {
  const report: DiscoveryReport = { loaded: [], failed: [] };
  for (const candidate of candidates) {
    const fail = (code: string, message: string, hint: string) =>
      report.failed.push({ package: candidate.package, path: candidate.dir, error: { code, message, hint } });
    if (candidate.apiVersion !== PLUGIN_API_VERSION) {
      fail(
        'PLUGIN_API_UNSUPPORTED',
        `${candidate.package} declares kinegraph.apiVersion ${JSON.stringify(candidate.apiVersion)}; this runtime supports ${PLUGIN_API_VERSION}.`,
        `Install a release of ${candidate.package} made for plugin API ${PLUGIN_API_VERSION}.`,
      );
      continue;
    }
    let blueprints: object[];
    try {
      blueprints = readBlueprints(candidate);
    } catch (error) {
      report.failed.push({ package: candidate.package, path: candidate.dir, error: serializeError(error) });
      continue;
    }
    if (!candidate.entries.length && blueprints.length) {
      // A package of blueprints only: no code to load.
      const source: PluginSource = {
        package: candidate.package,
        ...(candidate.version ? { version: candidate.version } : {}),
        path: candidate.dir,
      };
      try {
        registry.register({ name: candidate.package, blueprints }, source);
        report.loaded.push({ name: candidate.package, nodeTypes: [], source, origin: candidate.origin });
      } catch (error) {
        report.failed.push({ package: candidate.package, path: candidate.dir, error: serializeError(error) });
      }
      continue;
    }
    if (!candidate.entries.length) {
      fail(
        'PLUGIN_INVALID',
        `${candidate.package} lists no entry files in kinegraph.plugins.`,
        'Add "plugins": ["dist/index.js"] to the package\u2019s "kinegraph" field.',
      );
      continue;
    }
    for (const entry of candidate.entries) {
      const file = resolve(candidate.dir, entry);
      const source: PluginSource = {
        package: candidate.package,
        ...(candidate.version ? { version: candidate.version } : {}),
        path: file,
      };
      try {
        const plugin = await instantiate(file);
        // The package's blueprint files go with its (first) plugin.
        const own = entry === candidate.entries[0] ? blueprints : [];
        registry.register(
          own.length ? { ...plugin, blueprints: [...(plugin.blueprints ?? []), ...own] } : plugin,
          source,
        );
        report.loaded.push({
          name: plugin.name,
          nodeTypes: (plugin.nodes ?? []).flatMap((n) => (n ? [n.type] : [])),
          source,
          origin: candidate.origin,
        });
      } catch (error) {
        const serialized = serializeError(error);
        report.failed.push({
          package: candidate.package,
          path: file,
          // Our own coded errors (duplicates, bad types) say what is wrong; anything else is a load failure.
          error: !(error instanceof KinegraphError)
            ? {
                code: 'PLUGIN_LOAD_FAILED',
                message: `${candidate.package} failed to load: ${serialized.message}`,
                hint: `Check that ${entry} exists (is the plugin built?) and loads without errors.`,
              }
            : serialized,
        });
      }
    }
  }
  return report;
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

async function instantiate(file: string): Promise<KinegraphPlugin> {
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown; plugin?: unknown };
  const exported = module.default ?? module.plugin;
  const plugin =
    typeof exported === 'function' ? await (exported as (options: undefined) => unknown)(undefined) : exported;
  if (!plugin || typeof plugin !== 'object')
    throw new Error(`${file} has no default export of a plugin or plugin factory`);
  return plugin as KinegraphPlugin;
}
