/** The browser's side of the server API: JSON calls and the live WebSocket, both carrying the token. */
import type { ErrorBody, ServerMessage } from '../shared/protocol.js';

/** A failed API call, with the server's coded error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.error.message);
  }
}

// `?token=` on the page URL: the server also set a cookie, but keeping it lets scripts work without cookies.
const token = new URLSearchParams(location.search).get('token') ?? undefined;

function withToken(init: RequestInit = {}): RequestInit {
  return token
    ? { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } }
    : init;
}

/** Calls the API; resolves to the parsed JSON, rejects with {@link ApiError}. */
export async function call<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, ...rest } = init;
  const res = await fetch(
    path,
    withToken(
      json === undefined
        ? rest
        : { ...rest, body: JSON.stringify(json), headers: { 'content-type': 'application/json' } },
    ),
  );
  const body = (await res
    .json()
    .catch(() => ({ error: { code: 'BAD_RESPONSE', message: `HTTP ${res.status}` } }))) as T & ErrorBody;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** A URL for media elements (which cannot send headers). */
export function mediaUrl(path: string): string {
  return token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path;
}

/**
 * Keeps a WebSocket to `/api/ws` open, reconnecting with backoff; each (re)connect starts with a
 * `snapshot`, so the page always catches up with the server's state.
 */
export function connectLive(onMessage: (m: ServerMessage) => void, onStatus: (connected: boolean) => void): void {
  let delay = 500;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
    const socket = new WebSocket(url);
    socket.onopen = () => {
      delay = 500;
      onStatus(true);
    };
    socket.onmessage = (e) => onMessage(JSON.parse(String(e.data)) as ServerMessage);
    socket.onclose = () => {
      onStatus(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 8000);
    };
  };
  open();
}
