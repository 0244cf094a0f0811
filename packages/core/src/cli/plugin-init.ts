/**
 * `kinegraph plugin init <name>`: copies the plugin template (`templates/plugin` of this package, a real
 * plugin that CI type-checks and tests) into a new package with the name substituted, as create-vite
 * does. The result builds, has one working node (on the device, through an ONNX graph) and a real test,
 * and is discovered as soon as it is built.
 */
import type { Dirent } from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLUGIN_API_VERSION } from '../sdk/plugin.js';
import { KinegraphError } from '../util/errors.js';

/** npm scope (optional) and a lowercase kebab name that is also a valid node-type namespace. */
const NAME_PATTERN = /^(?:@([a-z0-9][a-z0-9._-]*)\/)?([a-z0-9][a-z0-9-]*)$/;

/**
 * The template's own name, written where the new package's name goes (package.json, README, the plugin
 * object), and its node-type namespace (`plugin-template/brightness`). The package name contains the
 * namespace, so both are replaced in one pass, longest first.
 */
export const TEMPLATE_NAMES = { packageName: 'kinegraph-plugin-template', namespace: 'plugin-template' } as const;

/** Template files stored under another name, because npm would drop the real one from core's package. */
const STORED_AS: Readonly<Record<string, string>> = { _gitignore: '.gitignore' };

/** What a template folder may hold that is not part of the template (a build or install inside it). */
const NOT_TEMPLATE = new Set(['node_modules', 'dist']);

/** A checked plugin name and what is derived from it. */
export interface PluginName {
  /** The npm package name, as given (`kinegraph-glow` or `@acme/kinegraph-glow`). */
  readonly packageName: string;
  /** The folder name: the name without its scope. */
  readonly folder: string;
  /** Namespace of the node types: the folder name (`glow/brightness` for `glow`). */
  readonly namespace: string;
}

/**
 * Checks a plugin name: lowercase letters, digits and dashes, starting with a letter or digit, at most
 * 214 characters (npm's limit), optionally scoped. Throws `PLUGIN_NAME_INVALID` with a hint otherwise.
 */
export function parsePluginName(name: string): PluginName {
  const match = NAME_PATTERN.exec(name);
  if (!match || name.length > 214 || match[2]!.endsWith('-')) {
    throw new KinegraphError('PLUGIN_NAME_INVALID', `"${name}" is not a valid plugin name.`, {
      hint: 'Use lowercase letters, digits and dashes, starting with a letter or digit (e.g. "glow" or "@acme/kinegraph-glow"); it becomes the npm package name and the node-type namespace.',
    });
  }
  const folder = match[2]!;
  return { packageName: name, folder, namespace: folder };
}

/** What {@link initPlugin} wrote. */
export interface PluginInitResult {
  /** Absolute folder of the new package. */
  readonly dir: string;
  /** Paths written, relative to `dir`. */
  readonly files: readonly string[];
  /** The node type of the example node. */
  readonly nodeType: string;
}

/** Options of {@link initPlugin}. */
export interface PluginInitOptions {
  /** Package name, checked by {@link parsePluginName}. */
  readonly name: string;
  /** Folder the package folder is created in (default `plugins`, relative to `cwd`). */
  readonly dir?: string;
  readonly cwd: string;
  /** The running `@kinegraph/core` version: the peer dependency is `^` this. */
  readonly coreVersion: string;
  /** The template folder; default: this package's `templates/plugin`. */
  readonly templateDir?: string;
}

/**
 * Writes a plugin package into `<dir>/<folder>`. Refuses (`PLUGIN_DIR_EXISTS`) when that path exists, so
 * nothing of the user's is ever overwritten. The files are written into a scratch folder beside it and
 * moved into place at once, so a failure leaves no half-written package.
 */
export async function initPlugin(options: PluginInitOptions): Promise<PluginInitResult> {
  const name = parsePluginName(options.name);
  const dir = resolve(options.cwd, options.dir ?? 'plugins', name.folder);
  const refuse = () =>
    new KinegraphError('PLUGIN_DIR_EXISTS', `${dir} already exists; plugin init never overwrites.`, {
      hint: 'Pick another name, or --dir <folder> to create it elsewhere.',
    });
  if (await exists(dir)) throw refuse();
  const files = await renderTemplate(options.templateDir ?? findTemplate(), name, options.coreVersion);
  await mkdir(dirname(dir), { recursive: true });
  const scratch = await mkdtemp(join(dirname(dir), `.${name.folder}-`));
  try {
    for (const [path, text] of files) {
      await mkdir(dirname(join(scratch, path)), { recursive: true });
      await writeFile(join(scratch, path), text, { flag: 'wx' });
    }
    if (await exists(dir)) throw refuse();
    await rename(scratch, dir).catch((error: NodeJS.ErrnoException) => {
      // Another process made the folder (with files in it) meanwhile.
      throw error.code === 'ENOTEMPTY' || error.code === 'EEXIST' ? refuse() : error;
    });
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    files: [...files.keys()].sort(),
    nodeType: `${name.namespace}/brightness`,
  };
}

/**
 * The files of a new plugin package, by path relative to its folder: the template's files with its names
 * replaced by `name`'s, and package.json's `@kinegraph/core` ranges and API version set for this core.
 */
export async function renderTemplate(
  templateDir: string,
  name: PluginName,
  coreVersion: string,
): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const path of await listFiles(templateDir)) {
    const text = substituteNames(await readFile(join(templateDir, path), 'utf8'), name);
    const target = join(dirname(path), STORED_AS[path.split('/').at(-1)!] ?? path.split('/').at(-1)!);
    files.set(target.replace(/\\/g, '/'), path === 'package.json' ? pinCore(text, coreVersion) : text);
  }
  if (!files.has('package.json')) {
    throw new KinegraphError('PLUGIN_TEMPLATE_MISSING', `${templateDir} has no package.json.`, {
      hint: 'Reinstall @kinegraph/core: its templates/plugin folder is incomplete.',
    });
  }
  return files;
}

/** Replaces the template's package name and namespace, in one pass so a new name is never rewritten. */
function substituteNames(text: string, name: PluginName): string {
  const { packageName, namespace } = TEMPLATE_NAMES;
  return text.replace(new RegExp(`${escapeRegExp(packageName)}|${escapeRegExp(namespace)}`, 'g'), (found) =>
    found === packageName ? name.packageName : name.namespace,
  );
}

/** package.json with `@kinegraph/core` as `^coreVersion` (peer and dev) and this core's plugin API version. */
function pinCore(text: string, coreVersion: string): string {
  const pkg = JSON.parse(text) as {
    peerDependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    kinegraph?: { apiVersion?: number };
  };
  pkg.peerDependencies = { ...pkg.peerDependencies, '@kinegraph/core': `^${coreVersion}` };
  pkg.devDependencies = { ...pkg.devDependencies, '@kinegraph/core': `^${coreVersion}` };
  pkg.kinegraph = { ...pkg.kinegraph, apiVersion: PLUGIN_API_VERSION };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** Every file under `root`, as sorted relative paths with `/`, leaving out builds and installs. */
async function listFiles(root: string, under = ''): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(root, under), { withFileTypes: true });
  } catch (error) {
    throw new KinegraphError('PLUGIN_TEMPLATE_MISSING', `The plugin template ${root} cannot be read.`, {
      hint: 'Reinstall @kinegraph/core: its templates/plugin folder is missing.',
      cause: error,
    });
  }
  const paths: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!NOT_TEMPLATE.has(entry.name)) paths.push(...(await listFiles(root, path)));
    } else if (entry.isFile()) paths.push(path);
  }
  return paths;
}

/**
 * This package's `templates/plugin`: two folders up from the built CLI (`dist/`), three from its sources
 * (`src/cli/`), whichever holds it.
 */
export function findTemplate(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    const candidate = join(dir, 'templates', 'plugin');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  throw new KinegraphError('PLUGIN_TEMPLATE_MISSING', 'The plugin template (templates/plugin) was not found.', {
    hint: 'Reinstall @kinegraph/core: its templates folder is missing.',
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `kinegraph plugin <subcommand>` from the raw arguments after `plugin`: only `init <name> [--dir d]`
 * for now. Parses its own flags because `--dir` takes a value that the shared parser does not know.
 * Resolves to the exit code: 0 done, 1 bad usage or refused.
 */
export async function pluginCommand(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; cwd: string },
  coreVersion: string,
): Promise<number> {
  const usage = 'Usage: kinegraph plugin init <name> [--dir <folder>]   (default folder: plugins)';
  const positionals: string[] = [];
  let dir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--dir') {
      dir = argv[++i];
      if (dir === undefined || dir.startsWith('-')) {
        io.stderr.write(`--dir needs a folder.\n${usage}\n`);
        return 1;
      }
    } else if (arg.startsWith('--dir=')) dir = arg.slice('--dir='.length);
    else if (arg === '--help' || arg === '-h') {
      io.stdout.write(`${usage}\n`);
      return 0;
    } else if (arg.startsWith('-')) {
      io.stderr.write(`Unknown option ${arg}.\n${usage}\n`);
      return 1;
    } else positionals.push(arg);
  }
  const [sub, name, ...rest] = positionals;
  if (sub !== 'init' || !name || rest.length || dir === '') {
    io.stderr.write(`${sub && sub !== 'init' ? `Unknown plugin command "${sub}".\n` : ''}${usage}\n`);
    return 1;
  }
  try {
    const result = await initPlugin({ name, ...(dir !== undefined ? { dir } : {}), cwd: io.cwd, coreVersion });
    const where = relative(io.cwd, result.dir) || '.';
    io.stdout.write(`Created ${where}: the plugin ${name} with one node, ${result.nodeType}.\n`);
    for (const file of result.files) io.stdout.write(`  ${join(where, file)}\n`);
    io.stdout.write(
      `\nNext:\n  cd ${where}\n  npm install          # in an npm-workspaces repo that lists this folder, run it at the root instead\n  npm run build        # dist/index.js, which Kinegraph loads\n  npm test             # the node's test, through a real Runtime\n  npx kinegraph plugins   # from the project folder: lists ${name}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof KinegraphError)) throw error;
    io.stderr.write(`${error.code}: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}\n`);
    return 1;
  }
}
