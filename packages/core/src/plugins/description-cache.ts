/**
 * Remembers what an isolated plugin's process said about it (its node types, schemas, migrations), so a
 * later start of Kinegraph (`kinegraph validate`, `nodes`, `plugins`, `run`) knows the plugin's nodes
 * without starting its process: the process then starts only when a run uses the plugin.
 *
 * The key covers everything the description can depend on: every file of the plugin's package (path, size,
 * modification time; `node_modules` excepted), the `package.json` of each package it reads, the host
 * program, Node's version, the grants and the values of granted environment variables. A package of more
 * than {@link MAX_FILES} files is not remembered. Entries live in `plugins-described/` in Kinegraph's cache
 * folder, are written atomically, are read only when owned by this user and writable by nobody else, and
 * are checked like a fresh description before use; any failure means describing again.
 */

import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { cacheFolder } from '../util/cache-dir.js';
import type { PluginGrants } from './grants.js';
import type { LoadResultWire } from './protocol.js';

const MAX_FILES = 2000;
const MAX_ENTRIES = 256;
const FORMAT = 1;

/** The cache key of a package's description, or undefined when it cannot be remembered. */
export function descriptionKey(input: {
  readonly packageDir: string;
  readonly entries: readonly string[];
  readonly readPaths: readonly string[];
  readonly hostScript: string;
  readonly grants: PluginGrants;
}): string | undefined {
  const files = listFiles(input.packageDir);
  if (!files) return undefined;
  const stamp = (path: string) => {
    try {
      const info = statSync(path);
      return [info.size, info.mtimeMs];
    } catch {
      return null;
    }
  };
  const key = {
    format: FORMAT,
    node: process.version,
    host: stamp(input.hostScript),
    entries: input.entries,
    files: files.map((file) => [relative(input.packageDir, file), stamp(file)]),
    packages: input.readPaths.map((dir) => [dir, stamp(join(dir, 'package.json'))]),
    grants: input.grants,
    env: input.grants.env.map((name) => [name, process.env[name] ?? null]),
  };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 40);
}

/** The remembered description for `key`, if there is a trustworthy one. */
export function readDescription(key: string): LoadResultWire | undefined {
  const dir = cacheFolder('plugins-described');
  if (!dir) return undefined;
  const path = join(dir, `${key}.json`);
  try {
    const info = statSync(path);
    const uid = process.getuid?.();
    if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) return undefined;
    const value = JSON.parse(readFileSync(path, 'utf8')) as { entries?: unknown };
    return Array.isArray(value.entries) ? (value as LoadResultWire) : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers a description (only one where every entry loaded). Failures are ignored. */
export function writeDescription(key: string, result: LoadResultWire): void {
  const dir = cacheFolder('plugins-described');
  if (!dir || !result.entries.every((e) => e.plugin && !e.error)) return;
  const path = join(dir, `${key}.json`);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, JSON.stringify(result), { mode: 0o600 });
    renameSync(temporary, path);
    prune(dir);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // never written
    }
  }
}

/** Every file of a package but its `node_modules` (and `.git`), or undefined when there are too many. */
function listFiles(dir: string): string[] | undefined {
  const out: string[] = [];
  const walk = (folder: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(folder).sort();
    } catch {
      return true;
    }
    for (const name of names) {
      if (name === 'node_modules' || name === '.git') continue;
      const path = join(folder, name);
      let isDir = false;
      try {
        // A linked folder is stamped, not entered: a link loop cannot make the walk endless.
        isDir = lstatSync(path).isDirectory();
      } catch {
        continue;
      }
      if (isDir) {
        if (!walk(path)) return false;
      } else if (out.push(path) > MAX_FILES) return false;
    }
    return true;
  };
  return walk(dir) ? out : undefined;
}

function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const dated = names
    .map((n) => {
      try {
        return { n, t: statSync(join(dir, n)).mtimeMs };
      } catch {
        return { n, t: 0 };
      }
    })
    .sort((a, b) => a.t - b.t);
  for (const { n } of dated.slice(0, dated.length - MAX_ENTRIES)) {
    try {
      unlinkSync(join(dir, n));
    } catch {
      // already gone
    }
  }
}
