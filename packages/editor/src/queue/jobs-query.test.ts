// `GET /api/jobs`: the query, and runs listed as jobs.
import { describe, expect, it } from 'vitest';
import type { RunSnapshot } from '../shared/protocol.js';
import { queuedRun } from '../shared/run-state.js';
import { listJobs, parseJobQuery } from './jobs-query.js';

const run = (id: string, status: RunSnapshot['status'], createdAt: number, extra: Partial<RunSnapshot> = {}) => ({
  ...queuedRun(id, id, ['n'], createdAt),
  status,
  ...extra,
});

describe('the jobs query', () => {
  it('reads status lists, client, limit and offset, with defaults', () => {
    expect(parseJobQuery(new URLSearchParams(''))).toEqual({ limit: 50, offset: 0 });
    expect(parseJobQuery(new URLSearchParams('status=pending,done&status=error&client=x&limit=5&offset=10'))).toEqual({
      status: ['pending', 'done', 'error'],
      client: 'x',
      limit: 5,
      offset: 10,
    });
  });

  it.each(['status=queued', 'limit=0', 'limit=501', 'offset=-1', 'limit=2.5'])('refuses %s', (q) => {
    expect(() => parseJobQuery(new URLSearchParams(q))).toThrow(expect.objectContaining({ code: 'QUERY_INVALID' }));
  });
});

describe('listing runs as jobs', () => {
  const runs = [
    run('old-done', 'done', 1, { worker: { id: 'w', name: 'w', host: 'h', device: 'cpu' } }),
    run('p-late', 'queued', 2, { client: 'b' }),
    run('p-first', 'queued', 3, { client: 'a' }),
    run('running', 'running', 4),
    run('new-error', 'error', 5),
  ];
  const ranks: Record<string, { priority: number; front: boolean; round: number; seq: number }> = {
    'p-late': { priority: 5, front: false, round: 2, seq: 2 },
    'p-first': { priority: 5, front: false, round: 1, seq: 3 },
  };

  it('lists pending jobs in run order with positions, then the others newest first', () => {
    const page = listJobs(runs, { limit: 50, offset: 0 }, (r) => ranks[r.id]);
    expect(page.jobs.map((j) => [j.id, j.status, j.position])).toEqual([
      ['p-first', 'pending', 0],
      ['p-late', 'pending', 1],
      ['new-error', 'error', undefined],
      ['running', 'running', undefined],
      ['old-done', 'done', undefined],
    ]);
    expect(page.jobs.at(-1)?.worker?.name).toBe('w');
    expect(page.jobs[0]).not.toHaveProperty('nodes');
  });

  it('filters by status and client, and pages', () => {
    const byStatus = listJobs(runs, { status: ['pending', 'done'], limit: 2, offset: 1 }, (r) => ranks[r.id]);
    expect(byStatus.total).toBe(3);
    expect(byStatus.jobs.map((j) => j.id)).toEqual(['p-late', 'old-done']);
    expect(listJobs(runs, { client: 'a', limit: 50, offset: 0 }, (r) => ranks[r.id]).jobs.map((j) => j.id)).toEqual([
      'p-first',
    ]);
  });
});
