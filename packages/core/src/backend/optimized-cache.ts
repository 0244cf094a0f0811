/**
 * An on-disk cache of the models ONNX Runtime has optimised, so a fresh process skips graph optimisation.
 *
 * Creating a session spends most of its time optimising the graph (the STUNet: 277 ms from the file,
 * 156 ms from its saved optimised form, measured on 2 cores). The worker saves the optimised model of
 * every large CPU session here and loads it with optimisation off the next time the same session is
 * asked for: same pool key (model file identity or bytes, overrides, appended graph, threads, level),
 * same ORT version, same CPU model (optimised models at level `all` are specific to the hardware).
 *
 * `KINEGRAPH_ORT_CACHE` sets the folder, or `off` turns the cache off; the default is `ort` in Kinegraph's
 * cache folder ({@link cacheFolder}: `$XDG_CACHE_HOME/kinegraph/ort`, else `~/.cache/kinegraph/ort`). Files are written under a temporary
 * name and renamed, so a crash never leaves a half-written model; the oldest files beyond
 * {@link MAX_FILES} are removed.
 */
import { createHash } from 'node:crypto';
import { readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { cacheFolder } from '../util/cache-dir.js';

/** How many optimised models the cache keeps (the STUNet's are ≈ 5 MB each). */
export const MAX_FILES = 32;

/** The cache folder, or undefined when the cache is off. */
export function optimizedCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.KINEGRAPH_ORT_CACHE;
  if (setting === 'off' || setting === '0') return undefined;
  if (setting) return setting;
  return cacheFolder('ort', env);
}

/** Where the optimised form of the session with this pool key lives. */
export function optimizedModelPath(dir: string, poolKey: string, ortVersion: string): string {
  const machine = `${process.arch}|${cpus()[0]?.model ?? 'unknown cpu'}`;
  const name = createHash('sha256').update(`${poolKey}\0${ortVersion}\0${machine}`).digest('hex').slice(0, 40);
  return join(dir, `${name}.onnx`);
}

/** A temporary name next to `path`, unique to this thread, for ORT to write the optimised model to. */
export function temporaryPath(path: string): string {
  return `${path}.${process.pid}-${threadId}.tmp`;
}

/** Whether a cached optimised model exists; refreshes its time so pruning keeps what is used. */
export async function useCached(path: string): Promise<boolean> {
  const now = new Date();
  return utimes(path, now, now).then(
    () => true,
    () => false,
  );
}

/** Moves a freshly written optimised model into place (or drops it), then prunes the folder. */
export async function commitCached(temporary: string, path: string): Promise<void> {
  try {
    await rename(temporary, path);
  } catch {
    await unlink(temporary).catch(() => undefined);
    return;
  }
  await prune(join(path, '..')).catch(() => undefined);
}

/** Forgets a cached model that ORT refused (damaged, or from an incompatible build). */
export async function dropCached(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.onnx'));
  if (names.length <= MAX_FILES) return;
  const dated = await Promise.all(
    names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => a.t - b.t);
  await Promise.all(
    dated.slice(0, dated.length - MAX_FILES).map(({ n }) => unlink(join(dir, n)).catch(() => undefined)),
  );
}
