/**
 * Queue order: priority first, then per-client fairness, then submission order. Fairness is start-time
 * fair queueing: within one priority every client's runs are numbered in rounds (a client's next run is one
 * round after its previous one, and never behind the round that is starting now), and the lowest round runs
 * first. A client that queues 100 runs therefore takes turns with a client that queues one later, instead
 * of making it wait for all 100. Runs queued "at the front" skip all of this (latest first, like a stack).
 *
 * The in-process queue uses {@link FairShare} and {@link compareQueued}; the Redis queue does the same
 * arithmetic inside its submit script (`queue/scripts.ts`) and turns it into a BullMQ priority with
 * {@link bullPriority}.
 */
import { HttpError } from '../server/http.js';

export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 10;
export const PRIORITY_DEFAULT = 5;

/**
 * BullMQ priorities go from 1 to 2,097,151; each of the 10 priorities gets a span of 2^17 rounds above the
 * queue's base round (the Redis backend moves the base up, re-prioritising waiting jobs, long before a span
 * fills).
 */
export const ROUND_SPAN = 2 ** 17;

/** Checks a submitted priority (an integer 1..10); 400 `PRIORITY_INVALID` otherwise. */
export function checkPriority(value: unknown): number {
  if (value === undefined || value === null || value === '') return PRIORITY_DEFAULT;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < PRIORITY_MIN || n > PRIORITY_MAX)
    throw new HttpError(
      400,
      'PRIORITY_INVALID',
      `Priority ${JSON.stringify(value)} is not an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}.`,
      `1 runs first, ${PRIORITY_MAX} last; the default is ${PRIORITY_DEFAULT}. To jump the whole queue use "front": true.`,
    );
  return n;
}

/** Fair-share bookkeeping for one queue, per priority. */
export class FairShare {
  /** Per priority: the round of the run that started last. */
  readonly #virtual = new Map<number, number>();
  /** Per priority and client: the round of the client's last queued run. */
  readonly #clients = new Map<string, number>();

  /** The round of a new run of `client` at `priority`. */
  assign(client: string, priority: number): number {
    const key = `${priority}:${client}`;
    const round = Math.max(this.#clients.get(key) ?? 0, this.#virtual.get(priority) ?? 0) + 1;
    this.#clients.set(key, round);
    return round;
  }

  /** A run of that round started: rounds before it are over. */
  started(priority: number, round: number): void {
    if (round <= (this.#virtual.get(priority) ?? 0)) return;
    this.#virtual.set(priority, round);
    // Clients whose last round is over are the same as new ones: forget them, so the map stays small.
    for (const [key, last] of this.#clients)
      if (key.startsWith(`${priority}:`) && last <= round) this.#clients.delete(key);
  }
}

/** What orders a waiting run. */
export interface QueueRank {
  readonly priority: number;
  readonly front: boolean;
  readonly round: number;
  /** Submission order. */
  readonly seq: number;
}

/** Sort order of waiting runs: the front (latest first), then priority, round, submission. */
export function compareQueued(a: QueueRank, b: QueueRank): number {
  if (a.front !== b.front) return a.front ? -1 : 1;
  if (a.front) return b.seq - a.seq;
  return a.priority - b.priority || a.round - b.round || a.seq - b.seq;
}

/** The BullMQ priority of a run (lower runs first): its priority's span, then its round above `base`. */
export function bullPriority(priority: number, round: number, base: number): number {
  const offset = Math.min(ROUND_SPAN - 1, Math.max(0, round - base));
  return 1 + (priority - PRIORITY_MIN) * ROUND_SPAN + offset;
}

/**
 * BullMQ priorities hold {@link ROUND_SPAN} rounds per priority above a base round. Long before a span
 * fills (half of it), the base moves up to just below the round starting now — waiting runs have rounds from
 * there on — and the waiting tickets of that priority get their BullMQ priority again: a few priority
 * changes every ~65,000 runs of one priority. `fair` is the queue's fair-share hash.
 */
export function rebaseTargets(fair: Record<string, string>, span = ROUND_SPAN): { priority: number; base: number }[] {
  const out: { priority: number; base: number }[] = [];
  for (let priority = PRIORITY_MIN; priority <= PRIORITY_MAX; priority++) {
    const now = Number(fair[`v:${priority}`] ?? 0);
    const base = Number(fair[`base:${priority}`] ?? 0);
    if (now - base >= span / 2) out.push({ priority, base: now - 1 });
  }
  return out;
}
