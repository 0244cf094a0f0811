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
