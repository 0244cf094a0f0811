/**
 * Every bound the server puts on what clients may make it hold: bodies, nesting, queued runs, uploads,
 * connections and time. Each has a default for a single-user machine and can be set through
 * `startServer({ limits })`; the README lists them.
 */

/** Limits of one server. Every field is optional in {@link ServerOptions.limits}; defaults below. */
export interface ServerLimits {
  /** Largest JSON body, bytes (413 `BODY_TOO_LARGE`). */
  readonly jsonBodyBytes: number;
  /** Deepest nesting of a JSON body, anywhere in it (400 `JSON_TOO_DEEP`). */
  readonly jsonDepth: number;
  /** Largest upload or media file sent to `/api/workflows/extract`, bytes (413 `BODY_TOO_LARGE`). */
  readonly uploadBytes: number;
  /** Bytes all files in `inputs/` may take together; an upload past it is 413 `UPLOAD_QUOTA_EXCEEDED`. */
  readonly uploadQuotaBytes: number;
  /** Uploads (and extracts) read at once; more are 429 `TOO_MANY_UPLOADS` (each is held in memory). */
  readonly concurrentUploads: number;
  /** Widest and tallest picture an upload may declare in its header (415 `UPLOAD_CONTENT_INVALID`). */
  readonly uploadMaxSide: number;
  /** Runs waiting behind the running one; more are 429 `QUEUE_FULL`. */
  readonly queuedRuns: number;
  /** Bytes of workflow JSON the waiting runs may hold together; more is 429 `QUEUE_FULL`. */
  readonly queuedBytes: number;
  /** Finished runs remembered for `GET /api/runs` (oldest forgotten first, as each run ends). */
  readonly finishedRuns: number;
  /** Open connections (HTTP, SSE and WebSocket together); past it idle ones are closed, then 503. */
  readonly connections: number;
  /** Time a client has to send a request's headers, ms (Node's `headersTimeout`). */
  readonly headersTimeoutMs: number;
  /** Time a client has to send a whole request, body included, ms (Node's `requestTimeout`). */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open, ms (Node's `keepAliveTimeout`). */
  readonly keepAliveTimeoutMs: number;
  /** A socket with no traffic for this long is closed, ms (SSE streams send a comment every 15 s). */
  readonly idleTimeoutMs: number;
}

/** The defaults: a single user on one machine, with room for a few browser tabs and scripts. */
export const DEFAULT_LIMITS: ServerLimits = {
  jsonBodyBytes: 5 * 1024 * 1024,
  jsonDepth: 64,
  uploadBytes: 50 * 1024 * 1024,
  uploadQuotaBytes: 2 * 1024 * 1024 * 1024,
  concurrentUploads: 4,
  uploadMaxSide: 8192,
  queuedRuns: 32,
  queuedBytes: 64 * 1024 * 1024,
  finishedRuns: 100,
  connections: 128,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
};

/** The defaults with the given fields replaced; a value that is not a positive number is refused. */
export function resolveLimits(given: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(given) as [keyof ServerLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS))
      throw Object.assign(new Error(`Unknown server limit "${key}".`), {
        code: 'SERVER_OPTION_INVALID',
        hint: `The limits are ${Object.keys(DEFAULT_LIMITS).join(', ')}.`,
      });
    if (typeof value !== 'number' || !(value > 0))
      throw Object.assign(new Error(`Server limit ${key} must be a positive number (got ${String(value)}).`), {
        code: 'SERVER_OPTION_INVALID',
      });
    (limits as Record<string, number>)[key] = value;
  }
  return limits;
}
