/**
 * The endpoints workers call (queue mode), under `/api/worker/`. Like every endpoint they need the server's
 * token when it has one; on top, each names the run and carries the worker's claim token
 * (`X-Kinegraph-Claim`), which must still hold the run: a worker that lost its run (it was thought dead and
 * another took over) can neither read its inputs nor write its outputs.
 */
import type { Redis } from 'ioredis';
import { resolveInside, sendFile } from '../server/files.js';
import { HttpError, readJson, sendJson } from '../server/http.js';
import type { Router } from '../server/router.js';
import { unavailable } from './errors.js';
import { isSafeRelativePath, type NamedFolder } from './inputs.js';
import type { QueueKeys } from './keys.js';
import { claimMs, OUTPUT_LIMITS } from './limits.js';
import type { OutputFolder } from './outputs.js';
import type { QueueLocation } from './redis.js';
import type { RunStore } from './store.js';
import { CLAIM_HEADER, type CommitAnswer, type CommitFile } from './wire.js';

/** What the routes need from the queue's server side. */
export interface WorkerRouteHost {
  readonly redis: Redis;
  readonly keys: QueueKeys;
  readonly location: QueueLocation;
  readonly store: RunStore;
  readonly outputs: OutputFolder;
  readonly options: { readonly readable: readonly NamedFolder[] };
}

export function addWorkerRoutes(router: Router, backend: WorkerRouteHost): void {
  const claimOf = async (id: string, headers: NodeJS.Dict<string | string[]>): Promise<string> => {
    const token = headers[CLAIM_HEADER];
    if (typeof token !== 'string' || !token)
      throw new HttpError(400, 'CLAIM_REQUIRED', `Send the run's claim token in ${CLAIM_HEADER}.`);
    let holder: string | null | undefined;
    let status: string | null | undefined;
    let last: string | null | undefined;
    try {
      [holder, [status, last]] = await Promise.all([
        backend.redis.get(backend.keys.claim(id)),
        backend.redis.hmget(backend.keys.run(id), 'status', 'token'),
      ]);
    } catch (error) {
      throw unavailable(backend.location, error as Error);
    }
    const held = holder === token || (holder === null && status === 'running' && last === token);
    if (!held)
      throw new HttpError(
        409,
        'CLAIM_LOST',
        `This worker no longer holds run "${id}".`,
        'Another worker took the run over (this one was unreachable for too long); its own attempt counts.',
      );
    return token;
  };

  router
    .on('GET', '/api/worker/runs/:id/inputs/:index', async ({ req, res, params }) => {
      const id = params.id!;
      await claimOf(id, req.headers);
      const doc = await backend.store.doc(id);
      const input = doc?.inputs.files[Number(params.index)];
      const folder = input && backend.options.readable.find((f) => f.name === input.folder);
      if (!input || !folder || !isSafeRelativePath(input.path))
        throw new HttpError(404, 'NOT_FOUND', `Run "${id}" has no input ${params.index}.`);
      sendFile(req, res, await resolveInside(folder.path, input.path));
    })
    .on('PUT', '/api/worker/runs/:id/files/*', async ({ req, res, params }) => {
      const id = params.id!;
      const token = await claimOf(id, req.headers);
      let path: string;
      try {
        path = decodeURIComponent(params['*']!);
      } catch {
        throw new HttpError(400, 'PATH_INVALID', 'The path is not valid percent-encoding.');
      }
      sendJson(res, 201, await backend.outputs.receive(req, id, token, path));
    })
    .on('POST', '/api/worker/runs/:id/commit', async ({ req, params }): Promise<CommitAnswer> => {
      const id = params.id!;
      const token = await claimOf(id, req.headers);
      const files = commitFiles(await readJson(req, 1024 * 1024, 8));
      const url = (path: string) => `/api/outputs/${[id, ...path.split('/')].map(encodeURIComponent).join('/')}`;
      await backend.outputs.verify(id, token, files);
      let outcome: Awaited<ReturnType<typeof backend.store.commit>>;
      try {
        outcome = await backend.store.commit(
          id,
          token,
          claimMs(),
          files.map((f) => f.path),
        );
      } catch (error) {
        throw unavailable(backend.location, error as Error);
      }
      if (outcome.kind === 'lost') throw new HttpError(409, 'CLAIM_LOST', `This worker no longer holds run "${id}".`);
      if (outcome.kind === 'committed' && outcome.committed.token !== token) {
        // Finishes that attempt's publishing if a crash interrupted it; drops this attempt's staged files.
        await backend.outputs.publish(id, outcome.committed.token);
        return { committed: 'earlier', files: outcome.committed.files.map(url) };
      }
      await backend.outputs.publish(id, token);
      return { committed: 'yours', files: files.map((f) => url(f.path)) };
    });
}

function commitFiles(body: unknown): CommitFile[] {
  const files = (body as { files?: unknown })?.files;
  if (!Array.isArray(files) || files.length > OUTPUT_LIMITS.files)
    throw new HttpError(
      400,
      'COMMIT_INVALID',
      `A commit lists at most ${OUTPUT_LIMITS.files} files as { files: [...] }.`,
    );
  return files.map((f: Partial<CommitFile>) => {
    if (
      typeof f?.path !== 'string' ||
      !isSafeRelativePath(f.path) ||
      typeof f.size !== 'number' ||
      typeof f.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(f.sha256)
    )
      throw new HttpError(400, 'COMMIT_INVALID', 'Each file is { path, size, sha256 } with a plain relative path.');
    return { path: f.path, size: f.size, sha256: f.sha256 };
  });
}
