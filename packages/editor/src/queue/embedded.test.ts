// The job API without Redis: `kinegraph serve`'s in-process queue orders runs by front, priority and
// client turns, and lists them as jobs with the worker (this process) and device.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../server/server.js';
import type { ErrorBody, RunSnapshot } from '../shared/protocol.js';
import { api, LiveClient } from '../testing/client.js';
import { gatedWorkflow, release, releaseAll, testPlugin } from '../testing/fake-nodes.js';
import type { JobDetail, JobPage, WorkerInfo } from './backend.js';

let cwd: string;
let runtime: Runtime;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'kg-embedded-'));
  runtime = await Runtime.create({ plugins: [testPlugin], discover: false });
  server = await startServer({ port: 0, cwd, runtime, log: () => undefined });
  base = server.url;
});

afterAll(async () => {
  releaseAll();
  await server?.close();
  await runtime?.close();
  rmSync(cwd, { recursive: true, force: true });
});

const gated = (gate: string) => gatedWorkflow(gate, { name: gate });

async function submit(name: string, options: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await api<{ id: string }>(base, '/api/runs', {
    method: 'POST',
    json: { workflow: gated(name), ...options },
  });
  expect(status).toBe(202);
  return body.id;
}

describe('the job API in one process', () => {
  it('orders waiting runs by front, priority and client turns, and runs them so', async () => {
    const live = await LiveClient.connect(base);
    try {
      const blocker = await submit('blocker', { client: 'z' });
      const names: Record<string, string> = {};
      for (const [name, options] of [
        ['a1', { client: 'alice' }],
        ['a2', { client: 'alice' }],
        ['a3', { client: 'alice' }],
        ['b1', { client: 'bob' }],
        ['low', { client: 'carol', priority: 9 }],
        ['urgent', { client: 'carol', priority: 1 }],
        ['front', { client: 'dave', front: true }],
      ] as const)
        names[await submit(name, options)] = name;
      const pending = (await api<JobPage>(base, '/api/jobs?status=pending')).body;
      const expected = ['front', 'urgent', 'a1', 'b1', 'a2', 'a3', 'low'];
      expect(pending.jobs.map((j) => names[j.id])).toEqual(expected);
      expect(pending.jobs.map((j) => j.position)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      const runningJobs = (await api<JobPage>(base, '/api/jobs?status=running')).body.jobs;
      expect(runningJobs.map((j) => [j.id, j.worker?.id, j.worker?.device])).toEqual([[blocker, 'embedded', 'cpu']]);
      const detail = (await api<JobDetail>(base, `/api/jobs/${pending.jobs[2]!.id}`)).body;
      expect(detail).toMatchObject({ status: 'pending', position: 2, client: 'alice', priority: 5 });
      expect((detail.workflow as { name: string }).name).toBe('a1');
      expect(detail.run.nodes).toHaveProperty('b');

      const order: string[] = [];
      for (const gate of ['blocker', ...expected]) {
        const id = gate === 'blocker' ? blocker : Object.keys(names).find((k) => names[k] === gate)!;
        await live.waitFor((m) => m.kind === 'run' && m.run.id === id && m.run.status === 'running');
        order.push(gate);
        release(gate);
        await live.waitForEnd(id);
      }
      expect(order).toEqual(['blocker', ...expected]);
      const done = (await api<JobPage>(base, '/api/jobs?status=done&limit=3')).body;
      expect(done.total).toBe(8);
      expect(done.jobs).toHaveLength(3);
    } finally {
      live.close();
    }
  });

  it('lists this process as the only worker, and refuses bad queue options', async () => {
    const { body } = await api<{ workers: WorkerInfo[] }>(base, '/api/workers');
    expect(body.workers).toMatchObject([{ id: 'embedded', concurrency: 1, running: [] }]);
    const bad = await api<ErrorBody>(base, '/api/runs', {
      method: 'POST',
      json: { workflow: gated('x'), front: 'yes' },
    });
    expect(bad.body.error.code).toBe('FRONT_INVALID');
    const unknown = await api<ErrorBody>(base, '/api/jobs/nope');
    expect(unknown.body.error.code).toBe('RUN_NOT_FOUND');
    const run = await api<RunSnapshot>(base, `/api/runs?priority=2`, { method: 'POST', json: gated('q') });
    expect((run.body as unknown as { run: RunSnapshot }).run.priority).toBe(2);
    release('q');
  });
});
