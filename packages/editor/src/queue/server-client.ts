/**
 * A worker's HTTP client to its server (`--server`): fetches a run's input files, uploads its outputs and
 * commits them, with the shared token and the run's claim. Every transfer is bounded (no byte moved for
 * {@link TRANSFER_LIMITS.idleMs}, or longer than {@link TRANSFER_LIMITS.totalMs}: aborted); while the server
 * cannot be reached (it restarts, say) a transfer is retried for up to {@link TRANSFER_LIMITS.retryForMs}.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KinegraphError } from '@kinegraph/core';
import type { InputFile } from './inputs.js';
import { TRANSFER_LIMITS } from './limits.js';
import { CLAIM_HEADER, type CommitAnswer, type CommitFile } from './wire.js';

/** A transfer failed; `retriable` when another worker (or a later attempt) could do better. */
export class TransferError extends KinegraphError {
  constructor(
    code: string,
    message: string,
    readonly retriable: boolean,
    hint?: string,
  ) {
    super(code, message, hint ? { hint } : {});
  }
}

export class ServerClient {
  readonly #base: URL;

  constructor(
    base: string,
    private readonly token: string | undefined,
    private readonly limits = TRANSFER_LIMITS,
  ) {
    this.#base = new URL(base.endsWith('/') ? base : `${base}/`);
  }

  /** Downloads input `index` of a run to `dest`, checking its size and sha256 (`INPUT_CHANGED` if not). */
  async fetchInput(runId: string, claim: string, index: number, input: InputFile, dest: string): Promise<void> {
    await this.#retrying(`input ${input.folder}/${input.path}`, async (signal, progress) => {
      const res = await fetch(this.#url(`api/worker/runs/${runId}/inputs/${index}`), {
        headers: this.#headers(claim),
        signal,
      });
      if (!res.ok || !res.body) throw await httpFailure(res, `fetching input ${input.folder}/${input.path}`);
      const temp = `${dest}.${randomBytes(4).toString('hex')}.partial`;
      const hash = createHash('sha256');
      let size = 0;
      try {
        await pipeline(
          Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              size += chunk.length;
              if (size > input.size) throw changed(input);
              progress();
              hash.update(chunk);
              yield chunk;
            }
          },
          createWriteStream(temp, { flags: 'wx' }),
        );
        if (size !== input.size || hash.digest('hex') !== input.sha256) throw changed(input);
        await rename(temp, dest);
      } finally {
        await rm(temp, { force: true });
      }
    });
  }

  /** Uploads one output file of a run (`path` relative to the run's output folder). */
  async upload(runId: string, claim: string, path: string, file: string): Promise<void> {
    const { size } = await stat(file);
    const url = this.#url(`api/worker/runs/${runId}/files/${path.split('/').map(encodeURIComponent).join('/')}`);
    await this.#retrying(`output ${path}`, async (signal, progress) => {
      const body = Readable.from(
        (async function* () {
          for await (const chunk of createReadStream(file)) {
            progress();
            yield chunk as Buffer;
          }
        })(),
      );
      const res = await fetch(url, {
        method: 'PUT',
        headers: {
          ...this.#headers(claim),
          'content-type': 'application/octet-stream',
          'content-length': String(size),
        },
        body: Readable.toWeb(body) as ReadableStream,
        duplex: 'half',
        signal,
      } as RequestInit);
      if (!res.ok) throw await httpFailure(res, `uploading output ${path}`);
      await res.arrayBuffer();
    });
  }

  /** Commits a run's uploaded files; says whether they or an earlier attempt's are the run's outputs. */
  async commit(runId: string, claim: string, files: readonly CommitFile[]): Promise<CommitAnswer> {
    return this.#retrying('the commit', async (signal) => {
      const res = await fetch(this.#url(`api/worker/runs/${runId}/commit`), {
        method: 'POST',
        headers: { ...this.#headers(claim), 'content-type': 'application/json' },
        body: JSON.stringify({ files }),
        signal,
      });
      if (!res.ok) throw await httpFailure(res, 'committing outputs');
      return (await res.json()) as CommitAnswer;
    });
  }

  #url(path: string): URL {
    return new URL(path, this.#base);
  }

  #headers(claim: string): Record<string, string> {
    return { [CLAIM_HEADER]: claim, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
  }

  /**
   * Runs a transfer with its time limits; retries it while the server is unreachable or answers 5xx, for up
   * to the retry time, backing off to 2 s.
   */
  async #retrying<T>(what: string, attempt: (signal: AbortSignal, progress: () => void) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.limits.retryForMs;
    for (let tries = 1; ; tries++) {
      const controller = new AbortController();
      const timeout = (why: string) =>
        controller.abort(new TransferError('TRANSFER_TIMEOUT', `Transferring ${what} ${why}.`, true));
      let idle = setTimeout(() => timeout(`moved nothing for ${this.limits.idleMs / 1000} s`), this.limits.idleMs);
      const total = setTimeout(() => timeout(`took over ${this.limits.totalMs / 1000} s`), this.limits.totalMs);
      const progress = () => {
        clearTimeout(idle);
        idle = setTimeout(() => timeout(`moved nothing for ${this.limits.idleMs / 1000} s`), this.limits.idleMs);
      };
      try {
        return await attempt(controller.signal, progress);
      } catch (caught) {
        const error = controller.signal.aborted ? controller.signal.reason : caught;
        const retriable = error instanceof TransferError ? error.retriable : true;
        if (!retriable || Date.now() > deadline) {
          if (error instanceof TransferError) throw error;
          throw new TransferError(
            'SERVER_UNREACHABLE',
            `Could not reach the server at ${this.#base.origin} for ${what}: ${(error as Error).message}`,
            true,
            'Check that `kinegraph serve --queue` runs there and that --server points at it.',
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(tries, 5))));
      } finally {
        clearTimeout(idle);
        clearTimeout(total);
      }
    }
  }
}

function changed(input: InputFile): TransferError {
  return new TransferError(
    'INPUT_CHANGED',
    `Input ${input.folder}/${input.path} changed on the server after the run was queued.`,
    false,
    'Queue the run again to use the file as it is now.',
  );
}

/** 5xx: retriable. 4xx: a coded, final answer (a lost claim, a limit). */
async function httpFailure(res: Response, what: string): Promise<TransferError> {
  let code = `HTTP_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  let hint: string | undefined;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; hint?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
    hint = body.error?.hint;
  } catch {
    // Not our JSON: keep the status.
  }
  return new TransferError(
    code,
    `The server refused ${what}: ${message}`,
    res.status >= 500 || res.status === 408,
    hint,
  );
}
