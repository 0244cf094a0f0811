/** Helpers for tests that talk to a real listening server. */
import WebSocket from 'ws';
import type { ServerMessage } from '../shared/protocol.js';

/** A WebSocket client that records every message and can wait for one. */
export class LiveClient {
  readonly messages: ServerMessage[] = [];
  readonly #waiters: { test: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  readonly socket: WebSocket;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      this.messages.push(message);
      for (const w of [...this.#waiters]) {
        if (w.test(message)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(message);
        }
      }
    });
  }

  /** Connects to `ws://.../api/ws` of a server at `baseUrl`. */
  static connect(baseUrl: string, headers: Record<string, string> = {}): Promise<LiveClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}api/ws`, { headers });
    const client = new LiveClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** The first message (already received or future) that passes `test`. */
  waitFor(test: (m: ServerMessage) => boolean, timeoutMs = 60_000): Promise<ServerMessage> {
    const found = this.messages.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a message')), timeoutMs);
      this.#waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Waits for the run to reach one of the end states. */
  waitForEnd(runId: string, timeoutMs?: number): Promise<ServerMessage> {
    return this.waitFor(
      (m) => m.kind === 'run' && m.run.id === runId && ['done', 'error', 'cancelled'].includes(m.run.status),
      timeoutMs,
    );
  }

  close(): void {
    this.socket.close();
  }
}

/** `fetch` + JSON, returning status, headers and the parsed body. */
export async function api<T = unknown>(
  base: string,
  path: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: T }> {
  const { json, ...rest } = init;
  const res = await fetch(new URL(path, base), {
    ...rest,
    ...(json !== undefined
      ? {
          body: JSON.stringify(json),
          headers: { 'content-type': 'application/json', ...(rest.headers as Record<string, string> | undefined) },
        }
      : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: res.status, headers: res.headers, body: body as T };
}
