/**
 * Caps open connections. A client that opens hundreds of sockets and sends nothing used to hold them
 * forever, and with a 256-descriptor limit real clients got "socket hang up". Node's own timeouts (set in
 * `server.ts`) close silent and slow sockets in time; this makes room at once when the cap is reached, by
 * closing the oldest socket that is not serving a request (never sent one, keep-alive between requests,
 * or still dribbling its headers), and answers a coded 429 to a connection that still does not fit.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const TOO_MANY = JSON.stringify({
  error: {
    code: 'TOO_MANY_CONNECTIONS',
    message: 'The server has as many open connections as it accepts.',
    hint: 'Close connections you do not use, then try again.',
  },
});

interface Tracked {
  /** Requests being served on it (headers received, answer not finished). */
  active: number;
  /** Closes a socket that has sent nothing in time (Node's headersTimeout does not cover one). */
  silent: NodeJS.Timeout | undefined;
  /** Upgraded to a WebSocket: a live client, never closed to make room. */
  upgraded: boolean;
}

/**
 * Tracks the server's sockets and keeps at most `max` open; a socket that sends nothing within
 * `firstRequestMs` of connecting is closed. `open()` is the live count.
 */
export function capConnections(
  server: Server,
  max: number,
  firstRequestMs: number,
): { open(): number; markUpgraded(socket: Socket): void } {
  // Insertion order is age order: the first idle one found is the oldest.
  const sockets = new Map<Socket, Tracked>();
  server.on('connection', (socket: Socket) => {
    // One that has started a request is Node's headersTimeout's to judge (it answers a coded 408).
    const silent = setTimeout(() => socket.bytesRead === 0 && socket.destroy(), firstRequestMs);
    silent.unref();
    sockets.set(socket, { active: 0, upgraded: false, silent });
    socket.once('close', () => {
      clearTimeout(silent);
      sockets.delete(socket);
    });
    if (sockets.size <= max) return;
    for (const [other, state] of sockets) {
      if (other === socket || state.active > 0 || state.upgraded) continue;
      sockets.delete(other);
      other.destroy();
      return;
    }
    sockets.delete(socket);
    socket.end(
      `HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 5\r\ncontent-length: ${Buffer.byteLength(TOO_MANY)}\r\nconnection: close\r\n\r\n${TOO_MANY}`,
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = sockets.get(req.socket as Socket);
    if (!state) return;
    clearTimeout(state.silent);
    state.silent = undefined;
    state.active++;
    res.once('close', () => state.active--);
  });
  return {
    open: () => sockets.size,
    markUpgraded(socket: Socket) {
      const state = sockets.get(socket);
      if (!state) return;
      state.upgraded = true;
      clearTimeout(state.silent);
    },
  };
}
