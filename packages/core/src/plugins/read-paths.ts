import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Most packages one plugin's dependency closure may list before the walk stops (a runaway tree). */
const MAX_PACKAGES = 5000;

/**
 * The folders a plugin needs to read to load its code: its package and, transitively, the packages its
 * `dependencies`, `peerDependencies` and `optionalDependencies` name, found the way Node finds them (the
 * nearest `node_modules` from the package's real folder upward). Each appears both where Node looks it up
 * (a workspace symlink such as `node_modules/@kinegraph/core`) and where it really is, since the
 * permission model checks the path as written and Node then opens the real one. Nothing else in
 * `node_modules` is readable to the plugin. Dependencies that are not installed are skipped (Node will
 * report them when the plugin imports them).
 */
export function packageReadPaths(packageDir: string): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  const queue = [packageDir];
  while (queue.length && seen.size < MAX_PACKAGES) {
    const dir = queue.pop()!;
    const real = realOrSelf(dir);
    out.add(dir);
    out.add(real);
    if (seen.has(real)) continue;
    seen.add(real);
    for (const name of dependencyNames(real)) {
      const found = findInstalled(name, real);
      if (!found || out.has(found)) continue;
      if (LEAVES.has(name)) {
        out.add(found);
        out.add(realOrSelf(found));
      } else queue.push(found);
    }
  }
  return [...out];
}

/** Packages read but whose dependencies are not followed. */
const LEAVES = new Set(['@kinegraph/core']);

function dependencyNames(dir: string): string[] {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const names = new Set<string>();
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      const deps = pkg[field];
      if (deps && typeof deps === 'object') for (const name of Object.keys(deps)) names.add(name);
    }
    return [...names].filter(isPackageName);
  } catch {
    return [];
  }
}

// Names only: a dependency key is joined into a path, so nothing like `../../etc` may pass.
function isPackageName(name: string): boolean {
  return /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name) && !name.split('/').some((part) => /^\.+$/.test(part));
}

/** Node's lookup: `<dir>/node_modules/<name>` for the package's folder and each folder above it. */
export function findInstalled(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // not here; look one folder up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
