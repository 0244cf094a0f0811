/** Which folders an isolated plugin may be given, and small helpers about folders. */

import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { cacheRoot } from '../util/cache-dir.js';

/**
 * Folders never given to a plugin: the filesystem root and your home folder or any folder above it (which
 * hold `~/.ssh`, `~/.aws`, shell start-up files). A run whose workflow sits directly in your home folder
 * still works for the built-in nodes; isolated plugins are told to use a folder of its own.
 */
export function isGrantable(folder: string): boolean {
  const home = homedir();
  for (const path of [folder, realOrSelf(folder)]) {
    if (path === '/' || path === dirname(path)) return false;
    if (home && isInside(home, path)) return false;
  }
  return true;
}

/**
 * Whether a plugin may write a run's output folder: never where Kinegraph keeps code it runs (the validator
 * cache in its cache folder), nor a folder inside or above that.
 */
export function isWritable(folder: string): boolean {
  const root = cacheRoot();
  if (!root) return true;
  const [r, f] = [realOrSelf(root), realOrSelf(folder)];
  return !isInside(r, f) && !isInside(f, r);
}

export function existingReal(folder: string): string[] {
  return existsSync(folder) ? [realOrSelf(folder)] : [];
}

export function ensureFolder(folder: string): string | undefined {
  try {
    mkdirSync(folder, { recursive: true });
    return realpathSync(folder);
  } catch {
    return undefined;
  }
}

export function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export function safeName(pkg: string): string {
  return pkg.replace(/^@/, '').replace(/[^a-zA-Z0-9._-]/g, '+');
}

/** The package folder of core that holds the host script (its `dist/` is read by every plugin process). */
export function corePackageDir(hostScript: string): string {
  for (let dir = dirname(hostScript); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return dirname(hostScript);
}

/** Whether `path` is `folder` or inside it (both absolute). */
export function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
