import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Kinegraph's on-disk cache folder, or undefined when caching to disk is off. `KINEGRAPH_CACHE` sets it
 * (`off` or `0` turns every disk cache off); the default is `$XDG_CACHE_HOME/kinegraph`, else
 * `~/.cache/kinegraph`. Each cache keeps a subfolder; what is there can always be deleted.
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.KINEGRAPH_CACHE;
  if (setting === 'off' || setting === '0') return undefined;
  if (setting) return setting;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kinegraph');
}

/**
 * The folder of one disk cache (`ort`, `ajv`, or a plugin's own name) inside {@link cacheRoot}, or undefined
 * when disk caching is off. For files derived from other files that a later process may reuse: a plugin
 * that keeps such files puts them here, keyed so a changed input is a new entry, and must cope with the
 * folder being emptied at any time.
 */
export function cacheFolder(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const root = cacheRoot(env);
  return root === undefined ? undefined : join(root, name);
}
