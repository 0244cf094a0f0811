// The run record's scripts on a real Redis: one holder per run, a worker that lost its claim can change
// nothing, outputs are committed once, cancels, attempts, and fair-share rounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunSnapshot } from '../shared/protocol.js';
import { queuedRun } from '../shared/run-state.js';
import { hasRedis, TestRedis } from '../testing/processes.js';
import { queueKeys } from './keys.js';
import { RunStore } from './store.js';

let redis: TestRedis;
let client: Redis;
let store: RunStore;
let dir: string;
let n = 0;

beforeAll(async () => {
  if (!hasRedis) return;
  dir = mkdtempSync(join(tmpdir(), 'kg-store-'));
  redis = await TestRedis.start(dir);
  client = redis.client();
  store = new RunStore(client, queueKeys('store-test'));
});

afterAll(async () => {
  client?.disconnect();
  await redis?.proc.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let id: string;
beforeEach(async () => {
  if (!hasRedis) return;
  id = `run-${++n}`;
  await store.submit(id, doc, queuedRun(id, 'r', ['a']), { client: 'c', priority: 5, front: false });
});

const doc = { workflow: { format: 'kinegraph/workflow@1', nodes: {} }, inputs: { files: [], absolute: [] }, keys: {} };
const worker = { id: 'w', name: 'w', host: 'h', device: 'cpu' };
const state = (status: RunSnapshot['status']): RunSnapshot => ({ ...queuedRun(id, 'r', ['a']), status });

describe.skipIf(!hasRedis)('run records', () => {
  it('one worker holds a run; another is told how long the claim lasts', async () => {
    const a = await store.claim(id, 'A', worker, 5_000, 3);
    expect(a.kind).toBe('ok');
    if (a.kind === 'ok') expect(a.attempt).toBe(1);
    const b = await store.claim(id, 'B', worker, 5_000, 3);
    expect(b.kind).toBe('busy');
    if (b.kind === 'busy') expect(b.pttl).toBeGreaterThan(4_000);
    expect(await store.finish(id, 'A', 5_000, { ...state('done'), endedAt: 1 })).toBe(true);
    expect((await store.claim(id, 'B', worker, 5_000, 3)).kind).toBe('finished');
  });

  it('a worker whose claim expired and was taken over can change nothing', async () => {
    expect((await store.claim(id, 'A', worker, 100, 3)).kind).toBe('ok');
    await new Promise((r) => setTimeout(r, 150));
    expect((await store.claim(id, 'B', worker, 5_000, 3)).kind).toBe('ok');
    expect(await store.update(id, 'A', 5_000, state('running'))).toBe(false);
    expect((await store.renew(id, 'A', 5_000)).held).toBe(false);
    expect((await store.commit(id, 'A', 5_000, ['x'])).kind).toBe('lost');
    expect(await store.finish(id, 'A', 5_000, state('done'))).toBe(false);
    expect(await store.release(id, 'A', 5_000, state('queued'))).toBe(false);
    expect(await store.finish(id, 'B', 5_000, state('done'))).toBe(true);
  });

  it('a claim that expired while nobody else claimed is taken back by its worker (a Redis hiccup)', async () => {
    expect((await store.claim(id, 'A', worker, 100, 3)).kind).toBe('ok');
    await new Promise((r) => setTimeout(r, 150));
    expect(await client.exists(store.keys.claim(id))).toBe(0);
    expect((await store.renew(id, 'A', 5_000)).held).toBe(true);
    expect(await client.get(store.keys.claim(id))).toBe('A');
  });

  it('outputs are committed once: a later attempt learns the earlier commit', async () => {
    expect((await store.claim(id, 'A', worker, 100, 3)).kind).toBe('ok');
    expect(await store.commit(id, 'A', 100, ['a.txt'])).toEqual({ kind: 'ok' });
    // A retried commit of the same attempt, then the attempt dies before finishing.
    expect(await store.commit(id, 'A', 100, ['a.txt'])).toEqual({
      kind: 'committed',
      committed: { token: 'A', files: ['a.txt'] },
    });
    await new Promise((r) => setTimeout(r, 150));
    const b = await store.claim(id, 'B', worker, 5_000, 3);
    expect(b.kind === 'ok' && b.committed).toEqual({ token: 'A', files: ['a.txt'] });
    expect(await store.commit(id, 'B', 5_000, ['b.txt'])).toEqual({
      kind: 'committed',
      committed: { token: 'A', files: ['a.txt'] },
    });
  });

  it('a cancel ends a waiting run at once, and signals a running one (which the next claim honours)', async () => {
    expect(await store.cancel(id, { ...state('cancelled'), endedAt: 1 })).toBe('cancelled');
    expect((await store.claim(id, 'A', worker, 5_000, 3)).kind).toBe('finished');
    const other = `${id}-b`;
    await store.submit(other, doc, queuedRun(other, 'r', ['a']), { client: 'c', priority: 5, front: false });
    expect((await store.claim(other, 'A', worker, 100, 3)).kind).toBe('ok');
    expect(await store.cancel(other, state('cancelled'))).toBe('signalled');
    expect(await store.renew(other, 'A', 100)).toEqual({ held: true, cancelRequested: true });
    await new Promise((r) => setTimeout(r, 150));
    // Its worker died before stopping it: the run is no longer held, so a new cancel ends it directly.
    await client.del(store.keys.claim(other));
    await client.hset(store.keys.run(other), 'token', 'gone');
    expect((await store.claim(other, 'B', worker, 5_000, 3)).kind).toBe('cancel');
  });

  it('a run is started at most maxAttempts times', async () => {
    for (const token of ['A', 'B']) {
      expect((await store.claim(id, token, worker, 5_000, 2)).kind).toBe('ok');
      expect(await store.release(id, token, 5_000, state('queued'))).toBe(true);
    }
    expect((await store.claim(id, 'C', worker, 5_000, 2)).kind).toBe('exhausted');
    expect(await store.settle(id, { ...state('error'), endedAt: 1 })).toBe('ok');
    expect((await store.load([id]))[0]?.status).toBe('error');
  });

  it('rounds: a client queueing many runs takes turns with one queueing later', async () => {
    const rounds: Record<string, number[]> = { alice: [], bob: [] };
    const fresh = new RunStore(client, queueKeys(`fair-${n}`));
    for (let i = 0; i < 4; i++) {
      const rid = `a${i}`;
      rounds.alice!.push(
        (await fresh.submit(rid, doc, queuedRun(rid, 'r', []), { client: 'alice', priority: 5, front: false })).round,
      );
    }
    expect((await fresh.claim('a0', 'T', worker, 5_000, 3)).kind).toBe('ok'); // round 1 starts
    for (let i = 0; i < 2; i++) {
      const rid = `b${i}`;
      rounds.bob!.push(
        (await fresh.submit(rid, doc, queuedRun(rid, 'r', []), { client: 'bob', priority: 5, front: false })).round,
      );
    }
    expect(rounds).toEqual({ alice: [1, 2, 3, 4], bob: [2, 3] });
    const urgent = await fresh.submit('u', doc, queuedRun('u', 'r', []), { client: 'bob', priority: 1, front: false });
    expect(urgent.round).toBe(1); // Priorities keep their own rounds.
  });

  it('the change feed names every changed run once, newest change last', async () => {
    const before = await store.lastChange();
    await store.claim(id, 'A', worker, 5_000, 3);
    await store.update(id, 'A', 5_000, state('running'));
    const { ids, last } = await store.changes(before);
    expect(ids).toEqual([id]);
    expect(last).toBe(await store.lastChange());
  });
});
