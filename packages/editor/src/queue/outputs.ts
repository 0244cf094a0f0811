/**
 * Output files that workers send to the server. A worker uploads each file of a run as soon as a node
 * writes it, into a staging folder of its own attempt (`outputs/.incoming/<run>/<attempt>/`), every file
 * written under a temporary name and renamed once complete. When the run is done the worker commits: the
 * server checks every file against the size and sha256 the worker reports, records the commit in Redis (once
 * per run: a later attempt gets the first commit's files), and renames the whole staging folder to
 * `outputs/<run>/` in one step. A worker that dies mid-run leaves only a staging folder, removed later; the
 * outputs folder never holds half a run or a half-written file, and never two copies of one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatBytes, HttpError } from '../server/http.js';
import { isSafeRelativePath } from './inputs.js';
import { OUTPUT_LIMITS, TRANSFER_LIMITS } from './limits.js';

/** Where runs' outputs are staged and committed. */
export class OutputFolder {
  readonly incoming: string;

  constructor(
    readonly outputs: string,
    private readonly limits = { ...OUTPUT_LIMITS, ...TRANSFER_LIMITS },
  ) {
    this.incoming = join(outputs, '.incoming');
  }

  /** The staging folder of one attempt (named by a hash of its claim token, which stays secret). */
  staging(runId: string, token: string): string {
    return join(this.incoming, runId, createHash('sha256').update(token).digest('hex').slice(0, 16));
  }

  /**
   * Receives one file of a run into its attempt's staging folder. 413 past the size limits, 408 when the
   * upload stalls or takes too long.
   */
  async receive(req: IncomingMessage, runId: string, token: string, path: string): Promise<{ size: number }> {
    if (!isSafeRelativePath(path))
      throw new HttpError(400, 'PATH_INVALID', `Output path "${path}" is not a plain relative path.`);
    const declared = Number(req.headers['content-length']);
    const limits = this.limits;
    if (Number.isFinite(declared) && declared > limits.fileBytes) throw fileTooLarge(limits.fileBytes);
    const folder = this.staging(runId, token);
    const staged = await this.#stagedBytes(folder);
    if (staged.files >= limits.files)
      throw new HttpError(413, 'RUN_OUTPUTS_TOO_LARGE', `A run may write at most ${limits.files} files.`);
    const target = join(folder, path);
    await mkdir(dirname(target), { recursive: true });
    const temp = join(dirname(target), `.${randomBytes(6).toString('hex')}.partial`);
    let size = 0;
    const budget = Math.min(limits.fileBytes, limits.totalBytes - staged.bytes);
    const abort = new AbortController();
    const stall = () => abort.abort(stalled(limits));
    let idle = setTimeout(stall, limits.idleMs);
    const total = setTimeout(stall, limits.totalMs);
    try {
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > budget)
              throw size > limits.fileBytes ? fileTooLarge(limits.fileBytes) : runTooLarge(limits.totalBytes);
            clearTimeout(idle);
            idle = setTimeout(stall, limits.idleMs);
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: 'wx' }),
        { signal: abort.signal },
      );
      if (Number.isFinite(declared) && declared !== size)
        throw new HttpError(400, 'UPLOAD_INCOMPLETE', `Received ${size} of ${declared} bytes.`);
      await rename(temp, target);
      return { size };
    } catch (error) {
      await rm(temp, { force: true });
      if (error instanceof HttpError) throw error;
      if (abort.signal.aborted) throw abort.signal.reason as HttpError;
      throw new HttpError(400, 'UPLOAD_INCOMPLETE', `The upload broke off: ${(error as Error).message}`);
    } finally {
      clearTimeout(idle);
      clearTimeout(total);
    }
  }

  /** Checks that the staging folder holds exactly these files, with these sizes and hashes. */
  async verify(runId: string, token: string, files: readonly { path: string; size: number; sha256: string }[]) {
    const folder = this.staging(runId, token);
    const present = await listFiles(folder);
    const expected = new Set(files.map((f) => f.path));
    const missing = files.filter((f) => !present.includes(f.path)).map((f) => f.path);
    const extra = present.filter((p) => !expected.has(p));
    if (missing.length || extra.length)
      throw new HttpError(
        409,
        'COMMIT_MISMATCH',
        `The staged files differ from the commit (${missing.length} missing, ${extra.length} not listed).`,
        'Upload every file the run wrote before committing.',
      );
    for (const file of files) {
      const path = join(folder, file.path);
      const info = await stat(path);
      if (info.size !== file.size || (await sha256(path)) !== file.sha256)
        throw new HttpError(409, 'COMMIT_MISMATCH', `Staged file ${file.path} does not match what the worker sent.`);
    }
  }

  /**
   * Moves a verified attempt's files into `outputs/<run>/` (one rename). Idempotent: an attempt whose files
   * are already there is left alone.
   */
  async publish(runId: string, token: string): Promise<void> {
    const target = join(this.outputs, runId);
    const source = this.staging(runId, token);
    try {
      await rename(source, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Already published (a retried commit), or the run wrote no file at all.
      if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        await mkdir(target, { recursive: true });
      } else throw error;
    }
    await rm(join(this.incoming, runId), { recursive: true, force: true });
  }

  /** A staged (not yet committed) file of a run in progress: `<run>/<path>` of the attempt `token`. */
  async staged(runId: string, token: string, path: string): Promise<{ path: string; size: number; mtimeMs: number }> {
    if (!isSafeRelativePath(path)) throw new HttpError(404, 'NOT_FOUND', `No file "${runId}/${path}".`);
    const file = join(this.staging(runId, token), path);
    try {
      const info = await stat(file);
      if (info.isFile()) return { path: file, size: info.size, mtimeMs: info.mtimeMs };
    } catch {
      // Fall through.
    }
    throw new HttpError(404, 'NOT_FOUND', `No file "${runId}/${path}".`);
  }

  /** Removes the staging folders of a run (finished, or forgotten). */
  async discard(runId: string): Promise<void> {
    await rm(join(this.incoming, runId), { recursive: true, force: true });
  }

  /** Run ids that have staging folders. */
  async stagedRuns(): Promise<string[]> {
    return (await readdir(this.incoming).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
  }

  async #stagedBytes(folder: string): Promise<{ files: number; bytes: number }> {
    let bytes = 0;
    const files = await listFiles(folder);
    for (const f of files) bytes += (await stat(join(folder, f)).catch(() => ({ size: 0 }))).size;
    return { files: files.length, bytes };
  }
}

/** Relative `/` paths of the complete files under `folder` (temporary `.partial` files left out). */
async function listFiles(folder: string, prefix = ''): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(join(folder, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(folder, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

export async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function fileTooLarge(limit: number): HttpError {
  return new HttpError(413, 'BODY_TOO_LARGE', `An output file may be at most ${formatBytes(limit)}.`);
}

function runTooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'RUN_OUTPUTS_TOO_LARGE',
    `A run's output files may be at most ${formatBytes(limit)} in all.`,
  );
}

function stalled(limits: { idleMs: number; totalMs: number }): HttpError {
  return new HttpError(
    408,
    'UPLOAD_TIMEOUT',
    `The upload stalled for ${limits.idleMs / 1000} s or took over ${limits.totalMs / 1000} s.`,
  );
}
