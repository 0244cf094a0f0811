/**
 * An on-disk cache of ajv's compiled validators, kept as ajv "standalone" code, so a fresh process loads
 * a validator instead of generating it again.
 *
 * Generating code for the workflow schema and the params of five nodes was ≈ 55 ms of every
 * `kinegraph run` on 2 cores; loading the saved code is ≈ 1 ms. Entries are keyed by the ajv version, the
 * ajv options and the schema's JSON, so a changed schema (a new node version, an updated plugin) is a new
 * entry. The folder is `ajv` in Kinegraph's cache folder (`KINEGRAPH_CACHE`, see {@link cacheRoot}).
 * Files are written under a temporary name and renamed; only private files (see `util/private-file.ts`:
 * owned by the user, writable by nobody else, no symlinks, in folders nobody else can write) are loaded; a file that fails to load is deleted and the validator compiled again; the oldest files beyond {@link MAX_VALIDATORS} are removed. Every failure
 * to read or write the cache falls back to compiling: the cache can only make validation faster.
 */
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { ValidateFunction } from 'ajv';
import { cacheFolder } from '../util/cache-dir.js';
import { isPrivateFileSync, PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE } from '../util/private-file.js';

/** How many validators the folder keeps (a few KB each). */
export const MAX_VALIDATORS = 512;

// Resolves the runtime helpers standalone code asks for (`ajv/dist/runtime/...`) from the installed ajv.
const requireFromHere = createRequire(import.meta.url);

/** The cache folder, or undefined when disk caching is off. */
export function validatorCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return cacheFolder('ajv', env);
}

let ajvVersion: string | undefined;
/** The cache key of a schema compiled with these ajv options. */
export function validatorKey(schema: unknown, options: string): string {
  ajvVersion ??= (requireFromHere('ajv/package.json') as { version: string }).version;
  return createHash('sha256')
    .update(`${ajvVersion}\0${options}\0${JSON.stringify(schema)}`)
    .digest('hex')
    .slice(0, 40);
}

/** The saved validator for `key`, or undefined when there is none or it does not load (it is then deleted). */
export function loadValidator(dir: string, key: string): ValidateFunction | undefined {
  const path = join(dir, `${key}.cjs`);
  let code: string;
  try {
    // Code is only run from a real file this user owns and nobody else may write, in folders nobody else
    // may write, reached through no symlink (as ssh treats its keys): anything else is ignored, not trusted.
    if (!isPrivateFileSync(path, dirname(dir))) return undefined;
    code = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const module = { exports: {} as { default?: unknown } };
    // The same evaluation ajv itself does for the code it generates, with the CommonJS names its
    // standalone form expects.
    new Function('module', 'exports', 'require', code)(module, module.exports, requireFromHere);
    const validate = (module.exports.default ?? module.exports) as ValidateFunction;
    if (typeof validate !== 'function') throw new Error('not a validator');
    touch(path);
    return validate;
  } catch {
    remove(path);
    return undefined;
  }
}

/** Saves a validator's standalone code for `key` (atomically), then prunes the folder. */
export function saveValidator(dir: string, key: string, code: string): void {
  const path = join(dir, `${key}.cjs`);
  const temporary = `${path}.${process.pid}-${threadId}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_FOLDER_MODE });
    writeFileSync(temporary, code, { mode: PRIVATE_FILE_MODE });
    renameSync(temporary, path);
  } catch {
    remove(temporary);
    return;
  }
  prune(dir);
}

function prune(dir: string): void {
  try {
    const names = readdirSync(dir).filter((n) => n.endsWith('.cjs'));
    if (names.length <= MAX_VALIDATORS) return;
    const dated = names.map((n) => ({ n, t: mtime(join(dir, n)) })).sort((a, b) => a.t - b.t);
    for (const { n } of dated.slice(0, dated.length - MAX_VALIDATORS)) remove(join(dir, n));
  } catch {
    // A folder we cannot list is simply not pruned.
  }
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

// Pruning keeps what is used: a load refreshes the file's time.
function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // Read-only caches still work; they are just not pruned by use.
  }
}

function remove(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
