/**
 * The server's picture of every remembered run in queue mode, kept in memory so reads never wait on Redis.
 * Two sources feed it: the durable records (loaded at start, then every run the change feed names) and the
 * workers' live events (pub/sub: progress and previews as they happen). Live events are usually ahead of
 * the record, which a worker writes at state changes; a record replaces the picture when it tells something
 * new (another status or attempt, the end), or when no live event came for a while (one may have been lost).
 */
import type { RunSnapshot, ServerMessage, WireEvent } from '../shared/protocol.js';
import { applyEvent, isFinished } from '../shared/run-state.js';
import type { LiveMessage } from './channel.js';
import type { QueueRank } from './fairness.js';
import type { StoredRun } from './store.js';

/** A record older than this many ms behind the live picture is trusted again. */
const LIVE_QUIET_MS = 3_000;

export interface ViewRun {
  snapshot: RunSnapshot;
  /** Change sequence number of the record the picture includes. */
  ver: number;
  attempt: number;
  rank: QueueRank;
  /** When the last live message for it arrived. */
  lastLive: number;
  /** Structural node keys, when known (routing). */
  keys?: ReadonlySet<string>;
  /** Size of the workflow JSON it was submitted as, when this server took it (the queue's limits). */
  bytes?: number;
}

export class RunView {
  readonly runs = new Map<string, ViewRun>();
  readonly #listeners = new Set<(message: ServerMessage) => void>();

  subscribe(listener: (message: ServerMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  broadcast(message: ServerMessage): void {
    for (const listener of this.#listeners) {
      try {
        listener(message);
      } catch {
        // One broken client must not stop the others from hearing about the run.
      }
    }
  }

  /** Adds a run this server just queued. */
  add(run: ViewRun): void {
    this.runs.set(run.snapshot.id, run);
    this.broadcast({ kind: 'run', run: run.snapshot });
  }

  /** Folds a durable record in; returns false when the run is unknown (the caller adds it). */
  applyRecord(record: StoredRun, now = Date.now()): boolean {
    const known = this.runs.get(record.id);
    if (!known) return false;
    if (record.ver <= known.ver) return true;
    const news =
      record.status !== known.snapshot.status ||
      record.attempt !== known.attempt ||
      isTerminal(record.status) ||
      now - known.lastLive > LIVE_QUIET_MS;
    known.ver = record.ver;
    // Once a run has ended the picture changes no more, unless the record ends it differently.
    if (!news || (isFinished(known.snapshot) && record.status === known.snapshot.status)) return true;
    if (isFinished(known.snapshot) && !isTerminal(record.status)) return true;
    known.attempt = record.attempt;
    known.snapshot = keepPreviews({ ...record.state, status: record.status }, known.snapshot);
    this.broadcast({ kind: 'run', run: known.snapshot });
    return true;
  }

  /** Folds a worker's live message in (messages of an older attempt, or after the end, are dropped). */
  applyLive(message: LiveMessage, now = Date.now()): boolean {
    const known = this.runs.get(message.runId);
    if (!known) return false;
    if (message.attempt < known.attempt || isFinished(known.snapshot)) return true;
    known.lastLive = now;
    if (message.attempt > known.attempt || message.kind === 'run') {
      known.attempt = message.attempt;
      const next = message.kind === 'run' ? message.run : known.snapshot;
      known.snapshot = keepPreviews(next, known.snapshot);
      this.broadcast({ kind: 'run', run: known.snapshot });
      if (message.kind === 'run') return true;
    }
    this.#event(known, message.event);
    return true;
  }

  /** Applies an event the server itself produced (a cancel of a waiting run). */
  applyEvent(runId: string, event: WireEvent): void {
    const known = this.runs.get(runId);
    if (known) this.#event(known, event);
  }

  #event(known: ViewRun, event: WireEvent): void {
    const statusChanged = applyEvent(known.snapshot, event);
    this.broadcast({ kind: 'event', runId: known.snapshot.id, event });
    if (statusChanged) this.broadcast({ kind: 'run', run: known.snapshot });
  }

  forget(id: string): void {
    this.runs.delete(id);
  }
}

function isTerminal(status: string): boolean {
  return status === 'done' || status === 'error' || status === 'cancelled';
}

/** Records carry no previews: keep the latest ones the picture has. */
function keepPreviews(next: RunSnapshot, previous: RunSnapshot): RunSnapshot {
  const nodes: RunSnapshot['nodes'] = {};
  for (const [id, node] of Object.entries(next.nodes)) {
    const preview = node.preview ?? previous.nodes[id]?.preview;
    nodes[id] = preview ? { ...node, preview } : node;
  }
  return { ...next, nodes };
}
