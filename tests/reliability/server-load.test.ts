// 50 concurrent submissions and cancellations against a real listening server: every accepted run ends in
// done, error or cancelled, and the server answers throughout.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineNode, Runtime, Type } from '@kinegraph/core';
import { startServer } from '@kinegraph/editor';
import { afterAll, describe, expect, it } from 'vitest';

const work = defineNode({
  type: 'load/work',
  version: 1,
  title: 'Work',
  category: 'test',
  description: 'Waits a little, honouring cancellation; fails when asked.',
  params: Type.Object({ ms: Type.Integer({ minimum: 0, default: 20 }), fail: Type.Boolean({ default: false }) }),
  inputs: {},
  outputs: { text: { type: 'text' } },
  async run({ params, context }) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, params.ms);
      context.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(context.signal.reason);
        },
        {
          once: true,
        },
      );
    });
    if (params.fail) throw new Error('asked to fail');
    return { text: 'ok' };
  },
});

const runtime = await Runtime.create({ plugins: [{ name: 'load', nodes: [work] }] });
const cwd = await mkdtemp(join(tmpdir(), 'kg-load-'));
// 50 runs may wait at once here (the default queue holds 32; tests/attacks checks that cap).
const server = await startServer({ port: 0, cwd, runtime, log: () => undefined, limits: { queuedRuns: 64 } });
afterAll(() => server.close());

const post = (path: string, body?: unknown) =>
  fetch(new URL(path, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('server under load', () => {
  it('50 concurrent submissions with cancellations all end, and the server keeps answering', async () => {
    const submissions = Array.from({ length: 50 }, (_, i) =>
      post('/api/runs', {
        format: 'kinegraph/workflow@1',
        nodes: { w: { type: 'load/work', version: 1, params: { ms: 10 + i * 3, fail: i % 5 === 0 } } },
      }).then(async (r) => {
        expect(r.status).toBe(202);
        return ((await r.json()) as { id: string }).id;
      }),
    );
    // Health checks interleaved with the burst: the server must answer each one.
    const health = Array.from({ length: 20 }, () => fetch(new URL('/api/nodes', server.url)).then((r) => r.status));
    const ids = await Promise.all(submissions);
    const cancels = ids.filter((_, i) => i % 3 === 0).map((id) => post(`/api/runs/${id}/cancel`).then((r) => r.status));
    expect((await Promise.all(cancels)).every((s) => s === 200 || s === 409)).toBe(true);
    expect(await Promise.all(health)).toEqual(new Array(20).fill(200));
    const deadline = Date.now() + 120_000;
    let statuses: string[] = [];
    while (Date.now() < deadline) {
      statuses = await Promise.all(
        ids.map(
          async (id) =>
            ((await (await fetch(new URL(`/api/runs/${id}`, server.url))).json()) as { status: string }).status,
        ),
      );
      if (statuses.every((s) => ['done', 'error', 'cancelled'].includes(s))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statuses.every((s) => ['done', 'error', 'cancelled'].includes(s))).toBe(true);
    expect(statuses.filter((s) => s === 'done').length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 'error').length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 'cancelled').length).toBeGreaterThan(0);
    // And a bad request still gets a coded 4xx, not a dead server.
    const bad = await post('/api/runs', { format: 'nope' });
    expect(bad.status).toBe(400);
  }, 180_000);
});
