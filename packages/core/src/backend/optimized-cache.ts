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
 *
 * What runs is what was verified: entries are keyed by the sha256 of the source's bytes (not its path and
 * mtime, so a tampered source never meets the optimised form of the good one), and each optimised model
 * has a `.sha256` record of its own bytes, written with it and checked before ORT loads it. An entry that
 * is not private (a symlink, writable by others, in a folder others can write: `util/private-file.ts`) or
 * whose bytes differ from its record is deleted and made afresh.
 */
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { cacheFolder } from '../util/cache-dir.js';
import { fileSha256 } from '../util/file-sha256.js';
import { isPrivateFile, PRIVATE_FILE_MODE } from '../util/private-file.js';

/** How many optimised models the cache keeps (the STUNet's are ≈ 5 MB each). */
export const MAX_FILES = 32;

/** The cache folder, or undefined when the cache is off. */
export function optimizedCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.KINEGRAPH_ORT_CACHE;
  if (setting === 'off' || setting === '0') return undefined;
  if (setting) return setting;
  return cacheFolder('ort', env);
}

/** sha256 (hex) of a model source's bytes: a file is read in 1 MiB pieces. */
export async function sourceDigest(source: string | Uint8Array): Promise<string> {
  if (typeof source !== 'string') return createHash('sha256').update(source).digest('hex');
  return fileSha256(source);
}

/** Where the record of an optimised model's own sha256 lives. */
function digestPath(path: string): string {
  return `${path}.sha256`;
}

/**
 * Where the optimised form of a session lives. `contentKey` must identify the source by its bytes (a
 * session key built from {@link sourceDigest}), never by its path.
 */
export function optimizedModelPath(dir: string, contentKey: string, ortVersion: string): string {
  const poolKey = contentKey;
  const machine = `${process.arch}|${cpus()[0]?.model ?? 'unknown cpu'}`;
  const name = createHash('sha256').update(`${poolKey}\0${ortVersion}\0${machine}`).digest('hex').slice(0, 40);
  return join(dir, `${name}.onnx`);
}

/** A temporary name next to `path`, unique to this thread, for ORT to write the optimised model to. */
export function temporaryPath(path: string): string {
  return `${path}.${process.pid}-${threadId}.tmp`;
}

/**
 * Whether a cached optimised model may be loaded: it and its digest record are private files, and its
 * bytes hash to the record. Refreshes its time so pruning keeps what is used. A model that fails the check
 * is deleted (it is made again from the verified source).
 */
export async function useCached(path: string): Promise<boolean> {
  const root = dirname(dirname(path));
  const record = digestPath(path);
  if (!(await isPrivateFile(path, root))) {
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      await dropCached(path);
    return false;
  }
  const expected = (await isPrivateFile(record, root)) ? await readFile(record, 'utf8').catch(() => '') : '';
  if (!/^[0-9a-f]{64}$/.test(expected.trim()) || (await fileSha256(path).catch(() => '')) !== expected.trim()) {
    await dropCached(path);
    return false;
  }
  const now = new Date();
  return utimes(path, now, now).then(
    () => true,
    () => false,
  );
}

/**
 * Moves a freshly written optimised model into place with the record of its sha256 (or drops it), then
 * prunes the folder. The model is made private first: ORT writes it with the process's umask.
 */
export async function commitCached(temporary: string, path: string): Promise<void> {
  try {
    await chmod(temporary, PRIVATE_FILE_MODE);
    const digest = await fileSha256(temporary);
    const recordTemporary = `${digestPath(path)}.${process.pid}-${threadId}.tmp`;
    await writeFile(recordTemporary, digest, { mode: PRIVATE_FILE_MODE });
    await rename(temporary, path);
    await rename(recordTemporary, digestPath(path));
  } catch {
    await unlink(temporary).catch(() => undefined);
    return;
  }
  await prune(join(path, '..')).catch(() => undefined);
}

/** Forgets a cached model (ORT refused it, or it is not what was written) and its digest record. */
export async function dropCached(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
  await unlink(digestPath(path)).catch(() => undefined);
}

async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.onnx'));
  if (names.length <= MAX_FILES) return;
  const dated = await Promise.all(
    names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => a.t - b.t);
  await Promise.all(dated.slice(0, dated.length - MAX_FILES).map(({ n }) => dropCached(join(dir, n))));
}
