/** Small HTTP helpers: coded errors, JSON answers, bounded body reading. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { depthExceededAt, type ValidationIssue } from '@kinegraph/core';
import type { ErrorBody } from '../shared/protocol.js';

/** An error that becomes an HTTP answer with a stable code (never reworded; clients switch on it). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly issues?: ValidationIssue[],
    /** Extra headers of the answer (`retry-after`, `content-range`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /**
   * Whether the answer closes the connection: after a 413 the rest of the body is still on its way, and
   * reading it to keep the connection alive is exactly what an endless upload wants the server to do.
   */
  get closesConnection(): boolean {
    return this.status === 413;
  }

  /** The JSON body of this error. */
  body(): ErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) },
      ...(this.issues ? { issues: this.issues } : {}),
    };
  }
}

/** Headers every answer carries: no sniffing, no framing by other sites, no referrer leaks. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Sends a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Sends an error as `{ error: { code, message, hint } }`; anything that is not an HttpError is a 500. */
export function sendError(res: ServerResponse, error: unknown): void {
  const e =
    error instanceof HttpError
      ? error
      : new HttpError(
          500,
          'INTERNAL',
          'The server failed to handle this request.',
          'This is a bug in the server; the server log has the details.',
        );
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Node ends the socket once a `connection: close` answer is written, instead of reading on.
  sendJson(
    res,
    e.status,
    e.body(),
    e.closesConnection || unreadBodyUnbounded(res) ? { ...e.headers, connection: 'close' } : e.headers,
  );
}

/** Bodies up to this size that a refusal leaves unread are drained (so the client reads its answer). */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/**
 * Whether the request's body was left unread and draining it could take unbounded work: no declared
 * length (chunked), or one past {@link DRAIN_LIMIT}. Such a connection is closed after the answer.
 */
function unreadBodyUnbounded(res: ServerResponse): boolean {
  const req = res.req as IncomingMessage | undefined;
  // `complete` may still be false for a request without a body when the answer is quick: Node marks it
  // complete after the request handler's first turn.
  if (!req || req.complete) return false;
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && length === undefined) return false;
  const declared = Number(length);
  return chunked || !(Number.isFinite(declared) && declared <= DRAIN_LIMIT);
}

/**
 * Reads a request body up to `limit` bytes. Rejects with 413 as soon as the declared or received size
 * passes the limit, and stops reading: the answer closes the connection (see {@link sendError}).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        req.off('data', onData);
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (error) => {
      if (!failed)
        reject(new HttpError(400, 'BODY_UNREADABLE', `The request body could not be read: ${error.message}`));
    });
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'BODY_TOO_LARGE',
    `The request body is larger than ${formatBytes(limit)}.`,
    'Send a smaller body.',
  );
}

/**
 * Reads and parses a JSON body; 415 when it is not declared as JSON, 400 when it nests deeper than
 * `depth` (checked on the text, before parsing builds anything) or does not parse.
 */
export async function readJson(req: IncomingMessage, limit: number, depth: number): Promise<unknown> {
  return (await readJsonSized(req, limit, depth)).value;
}

/** {@link readJson}, also telling how many bytes the body was. */
export async function readJsonSized(
  req: IncomingMessage,
  limit: number,
  depth: number,
): Promise<{ value: unknown; bytes: number }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // Requiring the JSON type also means a cross-site form cannot post here without a CORS preflight.
  if (type !== 'application/json')
    throw new HttpError(
      415,
      'CONTENT_TYPE_UNSUPPORTED',
      `Expected a JSON body (content-type application/json), got "${type || 'none'}".`,
      'Send the workflow as JSON with content-type: application/json.',
    );
  const body = await readBody(req, limit);
  const text = body.toString('utf8');
  const at = depthExceededAt(text, depth);
  if (at >= 0)
    throw new HttpError(
      400,
      'JSON_TOO_DEEP',
      `The body nests deeper than ${depth} levels (at character ${at}).`,
      'Workflows nest a few levels; flatten the data under metadata or params.',
    );
  try {
    return { value: JSON.parse(text) as unknown, bytes: body.length };
  } catch (error) {
    throw new HttpError(
      400,
      'JSON_INVALID',
      `The body is not valid JSON: ${(error as Error).message}`,
      'Check for a trailing comma or a missing quote.',
    );
  }
}

/** 1.5 MB style sizes for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) ? 1 : 0)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
