/** Small HTTP helpers: coded errors, JSON answers, bounded body reading. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ValidationIssue } from '@kinegraph/core';
import type { ErrorBody } from '../shared/protocol.js';

/** An error that becomes an HTTP answer with a stable code (never reworded; clients switch on it). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly issues?: ValidationIssue[],
  ) {
    super(message);
    this.name = 'HttpError';
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
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
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
  sendJson(res, e.status, e.body());
}

/**
 * Reads a request body up to `limit` bytes. Rejects with 413 as soon as the declared or received size
 * passes the limit, without buffering the rest.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge(limit));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        // Keep draining (and discarding) so the 413 answer can still be read by the client.
        return;
      }
      chunks.push(chunk);
    });
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

/** Reads and parses a JSON body; 415 when it is not declared as JSON, 400 when it does not parse. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
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
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
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
