/**
 * `GET /api/jobs`: reading the query, and listing runs as jobs. Both queue backends keep every remembered
 * run's snapshot in memory and list them with {@link listJobs}.
 */

import { HttpError } from '../server/http.js';
import type { RunSnapshot } from '../shared/protocol.js';
import type { JobDetail, JobPage, JobQuery, JobStatus, JobSummary } from './backend.js';
import { compareQueued, PRIORITY_DEFAULT, type QueueRank } from './fairness.js';

export const JOB_STATUSES: readonly JobStatus[] = ['pending', 'running', 'done', 'error', 'cancelled'];
/** Default and largest page size of `GET /api/jobs`. */
export const JOBS_LIMIT_DEFAULT = 50;
export const JOBS_LIMIT_MAX = 500;

/** Reads `status` (comma-separated or repeated), `client`, `limit` and `offset`; 400 on bad values. */
export function parseJobQuery(params: URLSearchParams): JobQuery {
  const status = params
    .getAll('status')
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of status)
    if (!JOB_STATUSES.includes(s as JobStatus))
      throw new HttpError(
        400,
        'QUERY_INVALID',
        `Unknown job status "${s}".`,
        `status is one or more of ${JOB_STATUSES.join(', ')} (comma-separated).`,
      );
  const limit = integer(params.get('limit'), 'limit', JOBS_LIMIT_DEFAULT, 1, JOBS_LIMIT_MAX);
  const offset = integer(params.get('offset'), 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const client = params.get('client') ?? undefined;
  return { ...(status.length ? { status: status as JobStatus[] } : {}), ...(client ? { client } : {}), limit, offset };
}

function integer(text: string | null, name: string, fallback: number, min: number, max: number): number {
  if (text === null || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new HttpError(400, 'QUERY_INVALID', `${name}=${text} is not an integer from ${min} to ${max}.`);
  return n;
}

/** A run's status as a job status. */
export function jobStatus(run: RunSnapshot): JobStatus {
  return run.status === 'queued' ? 'pending' : run.status;
}

/** What a queue knows about a waiting run's place, besides its snapshot. */
export type RankOf = (run: RunSnapshot) => QueueRank | undefined;

/**
 * Lists runs as jobs: pending ones in the order they will run (with their `position`), then the others,
 * newest first; filtered and paged.
 */
export function listJobs(runs: Iterable<RunSnapshot>, query: JobQuery, rankOf: RankOf): JobPage {
  const pending: { run: RunSnapshot; rank: QueueRank }[] = [];
  const others: RunSnapshot[] = [];
  for (const run of runs) {
    if (run.status === 'queued') pending.push({ run, rank: rankOf(run) ?? fallbackRank(run) });
    else others.push(run);
  }
  pending.sort((a, b) => compareQueued(a.rank, b.rank));
  others.sort((a, b) => b.createdAt - a.createdAt || (b.id < a.id ? -1 : 1));
  const position = new Map(pending.map((p, i) => [p.run.id, i]));
  const wanted = query.status ? new Set(query.status) : undefined;
  const matching = [...pending.map((p) => p.run), ...others].filter(
    (run) => (!wanted || wanted.has(jobStatus(run))) && (!query.client || run.client === query.client),
  );
  return {
    jobs: matching.slice(query.offset, query.offset + query.limit).map((run) => summarize(run, position.get(run.id))),
    total: matching.length,
    limit: query.limit,
    offset: query.offset,
  };
}

function fallbackRank(run: RunSnapshot): QueueRank {
  return { priority: run.priority ?? PRIORITY_DEFAULT, front: run.front === true, round: 0, seq: run.createdAt };
}

/** A run as a job, without per-node detail. */
export function summarize(run: RunSnapshot, position?: number): JobSummary {
  return {
    id: run.id,
    status: jobStatus(run),
    ...(run.name !== undefined ? { name: run.name } : {}),
    priority: run.priority ?? PRIORITY_DEFAULT,
    ...(run.front ? { front: true } : {}),
    ...(run.client !== undefined ? { client: run.client } : {}),
    ...(position !== undefined ? { position } : {}),
    createdAt: run.createdAt,
    ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}),
    ...(run.endedAt !== undefined ? { endedAt: run.endedAt } : {}),
    ...(run.ms !== undefined ? { ms: run.ms } : {}),
    ...(run.worker ? { worker: run.worker } : {}),
    ...(run.attempt !== undefined ? { attempt: run.attempt } : {}),
    ...(run.parent !== undefined ? { parent: run.parent } : {}),
    files: run.files,
    ...(run.error ? { error: run.error } : {}),
  };
}

/** `GET /api/jobs/:id`: the summary (with the queue position of a pending run), the run and its workflow. */
export function jobDetail(run: RunSnapshot, workflow: unknown, runs: Iterable<RunSnapshot>, rankOf: RankOf): JobDetail {
  let position: number | undefined;
  if (run.status === 'queued') {
    const page = listJobs(runs, { status: ['pending'], limit: Number.MAX_SAFE_INTEGER, offset: 0 }, rankOf);
    position = page.jobs.findIndex((j) => j.id === run.id);
  }
  return { ...summarize(run, position), run, workflow };
}
