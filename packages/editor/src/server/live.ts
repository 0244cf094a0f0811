/** Pushing run state to clients: one WebSocket for everything, or Server-Sent Events for one run. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RunBackend } from '../queue/backend.js';
import type { ServerMessage } from '../shared/protocol.js';
import { isFinished } from '../shared/run-state.js';
import { SECURITY_HEADERS } from './http.js';

/** A client further behind than this loses progress events (state still arrives with the next `run`). */
const SLOW_CLIENT_BYTES = 4 * 1024 * 1024;

/** Drops progress for clients that cannot keep up; everything else always goes out. */
function droppable(message: ServerMessage): boolean {
  return message.kind === 'event' && message.event.type === 'node:progress';
}

/** The first message a client gets: every run, the queue's order and what the backend supports. */
function snapshotOf(runs: RunBackend): ServerMessage {
  const queue = runs.queue?.();
  return {
    kind: 'snapshot',
    runs: runs.overview?.() ?? runs.list(),
    ...(queue ? { queue } : {}),
    features: runs.runNext ? ['run-next'] : [],
  };
}

/** The WebSocket endpoint: a snapshot of every run on connect, then every message. */
export class LiveSockets {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  constructor(private readonly runs: RunBackend) {
    this.#wss.on('connection', (socket: WebSocket) => this.#attach(socket));
  }

  /** Completes an HTTP upgrade the server has already authorised. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
  }

  #attach(socket: WebSocket): void {
    const send = (message: ServerMessage) => {
      if (socket.readyState !== socket.OPEN) return;
      if (droppable(message) && socket.bufferedAmount > SLOW_CLIENT_BYTES) return;
      socket.send(JSON.stringify(message));
    };
    send(snapshotOf(this.runs));
    const unsubscribe = this.runs.subscribe(send);
    socket.on('close', unsubscribe);
    socket.on('error', unsubscribe);
    // Clients have nothing to say; anything they send is ignored rather than trusted.
    socket.on('message', () => undefined);
  }

  /** Closes every socket. */
  close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }
}

/**
 * Server-Sent Events for one run (`runId`) or for all (`undefined`): the current state first, then live
 * messages; a one-run stream ends when the run does.
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  runs: RunBackend,
  runId: string | undefined,
): void {
  const initial = runId === undefined ? undefined : runs.get(runId); // 404s before any header is sent.
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const write = (message: ServerMessage) => {
    if (droppable(message) && res.writableLength > SLOW_CLIENT_BYTES) return;
    res.write(`event: ${message.kind}\ndata: ${JSON.stringify(message)}\n\n`);
  };
  let unsubscribe = () => {};
  const stop = () => {
    unsubscribe();
    clearInterval(keepAlive);
    res.end();
  };
  // Comments keep proxies and idle timeouts from closing a quiet stream.
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  req.on('close', stop);
  if (initial) {
    write({ kind: 'run', run: initial });
    if (isFinished(initial)) {
      stop();
      return;
    }
  } else write(snapshotOf(runs));
  unsubscribe = runs.subscribe((message) => {
    if (runId !== undefined) {
      const about = message.kind === 'run' ? message.run.id : message.kind === 'event' ? message.runId : undefined;
      if (about !== runId) return;
    }
    write(message);
    if (runId !== undefined && message.kind === 'run' && isFinished(message.run)) stop();
  });
}
