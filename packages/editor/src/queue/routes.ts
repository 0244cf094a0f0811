/** The job API (`/api/jobs`, `/api/workers`) and how `POST /api/runs` reads its queue options. */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../server/http.js';
import type { Router } from '../server/router.js';
import type { RunBackend, SubmitOptions } from './backend.js';
import { checkPriority } from './fairness.js';
import { parseJobQuery } from './jobs-query.js';

/** Longest accepted client name. */
const CLIENT_MAX = 128;

/** Adds `GET /api/jobs`, `GET /api/jobs/:id` and `GET /api/workers`. */
export function addJobRoutes(router: Router, runs: RunBackend): Router {
  return router
    .on('GET', '/api/jobs', ({ url }) => runs.jobs(parseJobQuery(url.searchParams)))
    .on('GET', '/api/jobs/:id', ({ params }) => runs.job(params.id!))
    .on('GET', '/api/workers', async () => ({ workers: await runs.workers() }));
}

/**
 * Queue options of `POST /api/runs`: from the body when it wraps the workflow (`{ workflow, priority,
 * front, client, parent, targets }`), else from the query string (`?priority=2&front=1&client=...&target=...`). The client
 * defaults to the `X-Kinegraph-Client` header, then to the remote address.
 */
export function submitOptions(body: unknown, url: URL, req: IncomingMessage): SubmitOptions {
  const wrapped =
    typeof body === 'object' && body !== null && !('format' in body) && 'workflow' in body
      ? (body as Record<string, unknown>)
      : {};
  const query = url.searchParams;
  const priority = checkPriority(wrapped.priority ?? query.get('priority') ?? undefined);
  const front = flag(wrapped.front ?? query.get('front') ?? undefined);
  const header = req.headers['x-kinegraph-client'];
  const client = text(
    wrapped.client ?? query.get('client') ?? (typeof header === 'string' ? header : undefined),
    'client',
  );
  const parent = text(wrapped.parent ?? query.get('parent') ?? undefined, 'parent');
  const targets = nodeIds(wrapped.targets ?? (query.getAll('target').length ? query.getAll('target') : undefined));
  return {
    priority,
    ...(front ? { front } : {}),
    client: client ?? req.socket.remoteAddress ?? 'unknown',
    ...(parent ? { parent } : {}),
    ...(targets ? { targets } : {}),
  };
}

/** `targets` (or `?target=` repeated): node ids of a partial run. */
function nodeIds(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    !value.length ||
    value.length > 1000 ||
    !value.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 1000)
  )
    throw new HttpError(
      400,
      'TARGETS_INVALID',
      '"targets" must be a list of node ids.',
      'E.g. "targets": ["sampler"].',
    );
  return value as string[];
}

function flag(value: unknown): boolean {
  if (value === undefined || value === false || value === 'false' || value === '0' || value === '') return false;
  if (value === true || value === 'true' || value === '1') return true;
  throw new HttpError(400, 'FRONT_INVALID', `front must be true or false (got ${JSON.stringify(value)}).`);
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > CLIENT_MAX || [...value].some((c) => c.charCodeAt(0) < 32))
    throw new HttpError(
      400,
      `${name.toUpperCase()}_INVALID`,
      `${name} must be a string of at most ${CLIENT_MAX} printable characters.`,
    );
  return value;
}
