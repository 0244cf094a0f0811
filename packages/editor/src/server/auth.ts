/** Who may talk to the server: loopback by default, a bearer token when bound to another address. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http.js';

/** Name of the cookie the web app gets after opening `/?token=...`, so its assets and media load too. */
export const TOKEN_COOKIE = 'kinegraph_token';

/** Shortest token the server accepts: 16 characters (`openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_LENGTH = 16;

/** Refuses (`TOKEN_TOO_SHORT`) a token short enough to guess. */
export function checkTokenStrength(token: string): void {
  if (token.length < MIN_TOKEN_LENGTH)
    throw Object.assign(
      new Error(`The access token is ${token.length} characters; it needs at least ${MIN_TOKEN_LENGTH}.`),
      {
        code: 'TOKEN_TOO_SHORT',
        hint: 'Make one with `openssl rand -hex 16` and pass it in a private file (--token-file or KINEGRAPH_TOKEN_FILE) or in KINEGRAPH_TOKEN.',
      },
    );
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The token a request carries: `Authorization: Bearer`, `?token=`, or the cookie. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const query = url.searchParams.get('token');
  if (query) return query;
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === TOKEN_COOKIE) return decodeURIComponent(rest.join('='));
    }
  }
  return undefined;
}

/** Compares tokens in constant time (hashing first makes the lengths equal without leaking them). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks one request. With a token: it must be present and equal. Without one (loopback only): the Host
 * header must name a loopback address, which stops DNS-rebinding pages from reaching the server.
 */
export function checkAccess(req: IncomingMessage, url: URL, token: string | undefined): void {
  if (token !== undefined) {
    const given = requestToken(req, url);
    if (given === undefined || !tokensEqual(given, token)) {
      throw new HttpError(
        401,
        'TOKEN_REQUIRED',
        'This server needs its access token on every request.',
        'Open the URL the server printed (it carries ?token=...), or send "Authorization: Bearer <token>".',
      );
    }
    return;
  }
  const hostHeader = req.headers.host ?? '';
  const hostname = hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : hostHeader.split(':')[0]!;
  if (!isLoopbackHost(hostname)) {
    throw new HttpError(
      403,
      'HOST_NOT_ALLOWED',
      `Host "${hostHeader}" is not a loopback name.`,
      'Open the editor at http://127.0.0.1:<port>/ or http://localhost:<port>/.',
    );
  }
}
