// Queue order: priorities, the front, and clients taking turns (start-time fair queueing).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bullPriority,
  checkPriority,
  compareQueued,
  FairShare,
  type QueueRank,
  ROUND_SPAN,
  rebaseTargets,
} from './fairness.js';

/** Queues runs, then starts them all in queue order; returns the order. */
function simulate(submissions: { client: string; priority?: number; front?: boolean }[]): number[] {
  const fair = new FairShare();
  const waiting = submissions.map((s, seq) => {
    const priority = s.priority ?? 5;
    const front = s.front === true;
    return { seq, rank: { priority, front, round: front ? 0 : fair.assign(s.client, priority), seq } as QueueRank };
  });
  const order: number[] = [];
  while (waiting.length) {
    waiting.sort((a, b) => compareQueued(a.rank, b.rank));
    const next = waiting.shift()!;
    if (!next.rank.front) fair.started(next.rank.priority, next.rank.round);
    order.push(next.seq);
  }
  return order;
}

describe('queue order', () => {
  it('takes turns between clients instead of serving one client\u2019s backlog first', () => {
    const order = simulate([
      { client: 'a' },
      { client: 'a' },
      { client: 'a' },
      { client: 'b' },
      { client: 'c' },
      { client: 'b' },
    ]);
    expect(order).toEqual([0, 3, 4, 1, 5, 2]);
  });

  it('runs the front first (latest first), then lower priority numbers', () => {
    const order = simulate([
      { client: 'a' },
      { client: 'a', priority: 9 },
      { client: 'b', priority: 1 },
      { client: 'c', front: true },
      { client: 'd', front: true },
    ]);
    expect(order).toEqual([4, 3, 2, 0, 1]);
  });

  it('a client arriving later waits behind at most one run of each other client (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 40 }), (clients) => {
        const late = clients.length;
        const order = simulate([...clients.map((client) => ({ client })), { client: 'z' }]);
        // Before the late run: at most one run of each client (the round being served and its own turn).
        const before = order.slice(0, order.indexOf(late)).map((i) => clients[i]);
        for (const c of new Set(clients)) expect(before.filter((x) => x === c).length).toBeLessThanOrEqual(1);
        // And each client's own runs keep their order.
        for (const c of new Set(clients)) {
          const mine = order.filter((i) => i < late && clients[i] === c);
          expect(mine).toEqual([...mine].sort((x, y) => x - y));
        }
      }),
    );
  });

  it('maps priorities to disjoint BullMQ priority ranges, rounds above the base', () => {
    expect(bullPriority(1, 1, 0)).toBe(2);
    expect(bullPriority(1, ROUND_SPAN + 5, 0)).toBe(ROUND_SPAN);
    expect(bullPriority(2, 0, 0)).toBe(1 + ROUND_SPAN);
    expect(bullPriority(10, 10 ** 9, 0)).toBeLessThanOrEqual(2_097_151);
    expect(bullPriority(5, 10, 8)).toBe(bullPriority(5, 2, 0));
  });

  it('accepts priorities 1..10 only', () => {
    expect(checkPriority(undefined)).toBe(5);
    expect(checkPriority('3')).toBe(3);
    for (const bad of [0, 11, 2.5, 'x', true]) expect(() => checkPriority(bad)).toThrow(/PRIORITY|not an integer/);
  });

  it('moves a priority\u2019s base round up before its BullMQ range fills, keeping waiting runs in order', () => {
    expect(rebaseTargets({ 'v:5': String(ROUND_SPAN / 2 - 1) })).toEqual([]);
    expect(rebaseTargets({ 'v:5': String(ROUND_SPAN / 2), 'v:1': '3', 'base:2': '9' })).toEqual([
      { priority: 5, base: ROUND_SPAN / 2 - 1 },
    ]);
    const base = rebaseTargets({ 'v:3': '70000', 'base:3': '0' })[0]!.base;
    // Waiting runs have rounds from the one starting now: after the move they still sort by round.
    const waiting = [70000, 70001, 70005, 70000 + ROUND_SPAN - 2];
    const priorities = waiting.map((round) => bullPriority(3, round, base));
    expect(priorities).toEqual([...priorities].sort((a, b) => a - b));
    expect(new Set(priorities).size).toBe(waiting.length);
    expect(bullPriority(3, 70000 + ROUND_SPAN - 2, 0)).toBe(bullPriority(3, 70000 + ROUND_SPAN, 0)); // before: clamped
  });
});
