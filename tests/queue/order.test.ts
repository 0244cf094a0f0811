// Queue order through BullMQ: a run queued at the front first, then by priority, then clients taking
// turns, then submission order; `GET /api/jobs` lists pending runs in that order and workers take them so.
import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../../packages/editor/src/queue/backend.js';
import { api } from '../../packages/editor/src/testing/client.js';
import { hasRedis, isEnded, jobs, Rig, run, slowWrite, startQueue, submit, TestWorker, until } from './harness.js';

describe.skipIf(!hasRedis)('queue order', () => {
  it('front, then priority, then clients in turn; listed as it will run, and run so', async () => {
    const rig = new Rig();
    try {
      // The worker starts once every run is queued, so the order it takes them in is the queue's.
      const { redis, server, workerDir } = await startQueue(rig, 'order', { workers: 0 });
      const base = server.url;
      const named: Record<string, string> = {};
      const add = async (name: string, options: Record<string, unknown>) =>
        (named[await submit(base, slowWrite(name, 0), options)] = name);
      for (const n of [1, 2, 3, 4]) await add(`a${n}`, { client: 'alice' });
      await add('b1', { client: 'bob' });
      await add('urgent', { client: 'carol', priority: 1 });
      await add('front', { client: 'dave', front: true });
      const expected = ['front', 'urgent', 'a1', 'b1', 'a2', 'a3', 'a4'];
      const pending = await jobs(base, '&status=pending');
      expect(pending.map((j) => named[j.id])).toEqual(expected);
      expect(pending.map((j) => j.position)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(pending.find((j) => named[j.id] === 'urgent')?.priority).toBe(1);
      // Paging and filters.
      const page = await api<{ jobs: JobSummary[]; total: number }>(base, '/api/jobs?status=pending&limit=2&offset=2');
      expect(page.body.total).toBe(7);
      expect(page.body.jobs.map((j) => named[j.id])).toEqual(['a1', 'b1']);
      const alice = await jobs(base, '&client=alice');
      expect(alice.map((j) => named[j.id]).sort()).toEqual(['a1', 'a2', 'a3', 'a4']);
      const bad = await api<{ error: { code: string } }>(base, '/api/runs', {
        method: 'POST',
        json: { workflow: slowWrite('x', 0), priority: 11 },
      });
      expect(bad.body.error.code).toBe('PRIORITY_INVALID');

      rig.track(await TestWorker.start(workerDir, redis.url, base, 'solo'));
      const ended = await until(
        'every run to end',
        () => Promise.all(Object.keys(named).map((id) => run(base, id))),
        (runs) => runs.every((r) => isEnded(r.status)),
      );
      const started = [...ended].sort((a, b) => a.startedAt! - b.startedAt!).map((r) => named[r.id]);
      expect(started).toEqual(expected);
      const detail = await api<{ workflow: { name: string }; worker: { name: string } }>(
        base,
        `/api/jobs/${ended[0]!.id}`,
      );
      expect(detail.body.workflow.name).toBe(named[ended[0]!.id]);
      expect(detail.body.worker.name).toBe('solo');
      expect((await api(base, '/api/jobs?status=nope')).status).toBe(400);
    } finally {
      await rig.stop();
    }
  });
});
