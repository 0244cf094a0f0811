/**
 * The two pub/sub channels of a queue. `live`: workers publish every event of the runs they execute (with
 * previews), and the server passes them on to its clients in today's WebSocket messages. `control`: the
 * server tells workers to cancel a run, or offers a re-run to the worker that ran its parent. Neither is
 * durable: what must survive (state, cancel requests) is also written to the run's record, and a message
 * lost while a process reconnects is made up from there.
 */
import type { RunSnapshot, WireEvent } from '../shared/protocol.js';
import { LIVE_MESSAGE_BYTES } from './limits.js';

/** Worker → server. `attempt` tells an old attempt's late messages from the current one's. */
export type LiveMessage =
  | { kind: 'event'; runId: string; attempt: number; event: WireEvent }
  | { kind: 'run'; runId: string; attempt: number; run: RunSnapshot };

/** Server → workers. */
export type ControlMessage =
  | { kind: 'cancel'; runId: string }
  | { kind: 'offer'; runId: string; workerId: string; nodeTypes: string[] };

/**
 * Encodes a live message, leaving out a preview that would make it larger than {@link LIVE_MESSAGE_BYTES}
 * (the state it carries still goes out).
 */
export function encodeLive(message: LiveMessage): string {
  const text = JSON.stringify(message);
  if (text.length <= LIVE_MESSAGE_BYTES || message.kind !== 'event' || !('preview' in message.event)) return text;
  const { preview: _preview, ...event } = message.event as WireEvent & { preview?: unknown };
  return JSON.stringify({ ...message, event });
}

/** Parses a message, or `undefined` for anything malformed (one bad publisher must not stop the others). */
export function decode<T extends { kind: string; runId: string }>(text: string): T | undefined {
  try {
    const value = JSON.parse(text) as T;
    return typeof value === 'object' && value !== null && typeof value.runId === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
