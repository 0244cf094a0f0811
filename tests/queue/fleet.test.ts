// The queue with a fleet of worker processes on a real Redis: 50 runs over 3 workers each ending exactly
// once, a re-run routed to the worker that holds its parent's results, inputs fetched over HTTP, a cancel
// reaching the worker that runs the job, a worker SIGKILLed mid-run whose run another worker finishes, and
// workers lacking a plugin.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSnapshot, ServerMessage } from '../../packages/editor/src/shared/protocol.js';
import { api, LiveClient } from '../../packages/editor/src/testing/client.js';
import {
  hasRedis,
  isEnded,
  jobs,
  pluginFolder,
  Rig,
  run,
  scratch,
  slowWrite,
  startQueue,
  submit,
  type TestRedis,
  TestWorker,
  until,
} from './harness.js';

const rig = new Rig();
let redis: TestRedis;
let workers: TestWorker[];
let serverDir: string;
let base: string;

beforeAll(async () => {
  if (!hasRedis) return;
  const queue = await startQueue(rig, 'fleet', { plugins: ['queue-test', 'queue-extra'], workers: 3 });
  ({ redis, serverDir, workers } = queue);
  base = queue.server.url;
}, 120_000);

afterAll(() => rig.stop(), 60_000);

const terminalRunMessages = (messages: ServerMessage[], id: string) =>
  messages.filter((m) => m.kind === 'run' && m.run.id === id && isEnded(m.run.status)).length;

describe.skipIf(!hasRedis)('a fleet of workers on one queue', () => {
  it('runs 50 runs over 3 workers, each ending exactly once, with its one output', async () => {
    const live = await LiveClient.connect(base);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push(await submit(base, slowWrite(`many-${i}`, (i % 5) * 10)));
      const ended = await until(
        '50 runs to end',
        () => Promise.all(ids.map((id) => run(base, id))),
        (runs) => runs.every((r) => isEnded(r.status)),
        90_000,
      );
      expect(ended.map((r) => r.status)).toEqual(ids.map(() => 'done'));
      // Each ran once: one attempt, one terminal message, one execution of its writer, one output file.
      expect(ended.map((r) => r.attempt)).toEqual(ids.map(() => 1));
      await until(
        'the last messages',
        async () => live.messages,
        () => ids.every((id) => terminalRunMessages(live.messages, id) >= 1),
      );
      for (const [i, id] of ids.entries()) {
        expect(terminalRunMessages(live.messages, id)).toBe(1);
        const writes = live.messages.filter(
          (m) => m.kind === 'event' && m.runId === id && m.event.type === 'node:start' && m.event.nodeId === 'write',
        );
        expect(writes).toHaveLength(1);
        expect(readdirSync(join(serverDir, 'outputs', id))).toEqual([`many-${i}.txt`]);
        expect(readFileSync(join(serverDir, 'outputs', id, `many-${i}.txt`), 'utf8')).toBe(`many-${i}+t\n`);
        expect(ended[i]!.files).toEqual([`/api/outputs/${id}/many-${i}.txt`]);
      }
      // The work was shared, and the jobs say who did it.
      const names = new Set(ended.map((r) => r.worker?.name));
      expect(names.size).toBeGreaterThan(1);
      const page = await jobs(base, '&status=done');
      expect(page.filter((j) => ids.includes(j.id)).every((j) => j.worker?.device === 'cpu')).toBe(true);
    } finally {
      live.close();
    }
  });

  it('serves outputs over HTTP, previews and progress over the WebSocket', async () => {
    const live = await LiveClient.connect(base);
    try {
      const id = await submit(base, slowWrite('live', 600));
      await live.waitForEnd(id);
      const progress = live.messages.filter(
        (m) => m.kind === 'event' && m.runId === id && m.event.type === 'node:progress',
      );
      expect(progress.length).toBeGreaterThan(2);
      expect(
        progress.some((m) => m.kind === 'event' && 'preview' in m.event && m.event.preview?.mime === 'image/png'),
      ).toBe(true);
      const res = await fetch(new URL(`/api/outputs/${id}/live.txt`, base));
      expect(await res.text()).toBe('live+t\n');
    } finally {
      live.close();
    }
  });

  it('routes a re-run to the worker that ran its parent, which reuses its cached results', async () => {
    for (let i = 0; i < 3; i++) {
      const first = await submit(base, slowWrite(`route-${i}`, 300, `route-${i}`));
      const parent = await until(
        'the parent run',
        () => run(base, first),
        (r) => isEnded(r.status),
      );
      expect(parent.status).toBe('done');
      // Same text and slow nodes, another file name: only the writer needs to run.
      const again = slowWrite(`route-${i}-b`, 300, `route-${i}`);
      const second = await submit(base, again);
      const child = await until(
        'the re-run',
        () => run(base, second),
        (r) => isEnded(r.status),
      );
      expect(child.status).toBe('done');
      expect(child.parent).toBe(first);
      expect(child.worker?.id).toBe(parent.worker?.id);
      expect(child.cached).toEqual(['text', 'slow']);
      expect(child.executed).toEqual(['write']);
    }
  });

  it('sends a run the files it reads (uploads, absolute paths) over HTTP', async () => {
    const bytes = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
      'base64',
    );
    const upload = await api<{ name: string }>(base, '/api/uploads?kind=image&name=dot.png', {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(upload.status).toBe(201);
    mkdirSync(join(serverDir, 'workflows'), { recursive: true });
    writeFileSync(join(serverDir, 'workflows', 'note.txt'), 'a note');
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: {
        upload: { type: 'qtest/read', version: 1, params: { path: upload.body.name } },
        note: { type: 'qtest/read', version: 1, params: { path: join(serverDir, 'workflows', 'note.txt') } },
      },
    };
    const id = await submit(base, doc);
    const live = await LiveClient.connect(base);
    try {
      await live.waitForEnd(id);
      const outputs = live.messages.flatMap((m) =>
        m.kind === 'event' && m.runId === id && m.event.type === 'node:done'
          ? [[m.event.nodeId, (m.event.outputs.text as { value: string }).value]]
          : [],
      );
      const { createHash } = await import('node:crypto');
      const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
      expect(Object.fromEntries(outputs)).toEqual({
        upload: `${bytes.length}:${sha(bytes)}`,
        note: `6:${sha('a note')}`,
      });
    } finally {
      live.close();
    }
  });

  it('ends a run whose node fails with its coded error, once, without retrying it', async () => {
    const live = await LiveClient.connect(base);
    try {
      const doc = {
        format: 'kinegraph/workflow@1',
        nodes: {
          text: { type: 'qtest/text', version: 1, params: { value: 'x' } },
          fail: { type: 'qtest/fail', version: 1, params: {}, inputs: { text: { node: 'text', output: 'text' } } },
        },
      };
      const id = await submit(base, doc);
      const end = (await live.waitForEnd(id)) as Extract<ServerMessage, { kind: 'run' }>;
      expect(end.run.status).toBe('error');
      expect(end.run.error).toMatchObject({ code: 'TEST_FAILURE', nodeId: 'fail', hint: 'It is a test.' });
      expect(end.run.attempt).toBe(1);
      expect(
        live.messages.some(
          (m) => m.kind === 'event' && m.runId === id && m.event.type === 'node:error' && m.event.nodeId === 'fail',
        ),
      ).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await run(base, id)).toMatchObject({ status: 'error', attempt: 1 });
      expect(existsSync(join(serverDir, 'outputs', id))).toBe(false);
    } finally {
      live.close();
    }
  });

  it('cancels a run on the worker that runs it', async () => {
    const live = await LiveClient.connect(base);
    try {
      const id = await submit(base, slowWrite('cancel-me', 60_000));
      await live.waitFor((m) => m.kind === 'event' && m.runId === id && m.event.type === 'node:progress');
      const running = await run(base, id);
      expect(running.status).toBe('running');
      const { status } = await api(base, `/api/runs/${id}/cancel`, { method: 'POST' });
      expect(status).toBe(200);
      const end = (await live.waitForEnd(id, 15_000)) as Extract<ServerMessage, { kind: 'run' }>;
      expect(end.run.status).toBe('cancelled');
      expect(end.run.worker?.id).toBe(running.worker?.id);
      // Its worker is free again: the next run on it completes.
      const next = await submit(base, slowWrite('after-cancel', 0));
      expect(
        (
          await until(
            'the next run',
            () => run(base, next),
            (r) => isEnded(r.status),
          )
        ).status,
      ).toBe('done');
      const again = await api<{ error: { code: string } }>(base, `/api/runs/${id}/cancel`, { method: 'POST' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('RUN_FINISHED');
    } finally {
      live.close();
    }
  });

  it('finishes elsewhere the run of a worker killed mid-run, with no duplicate or partial output', async () => {
    const id = await submit(base, slowWrite('killed', 2_500));
    const running = await until(
      'the run to start',
      () => run(base, id),
      (r) => r.status === 'running' && !!r.worker,
    );
    const victim = workers.find((w) => w.id === running.worker!.id)!;
    await until(
      'progress',
      () => run(base, id),
      (r) => (r.nodes.slow?.progress ?? 0) > 0.1,
    );
    await victim.proc.kill('SIGKILL');
    const ended = await until(
      'the run to end elsewhere',
      () => run(base, id),
      (r) => isEnded(r.status),
      60_000,
    );
    expect(ended.status).toBe('done');
    expect(ended.attempt).toBe(2);
    expect(ended.worker?.id).not.toBe(victim.id);
    expect(readdirSync(join(serverDir, 'outputs', id))).toEqual(['killed.txt']);
    expect(readFileSync(join(serverDir, 'outputs', id, 'killed.txt'), 'utf8')).toBe('killed+t\n');
    // The dead attempt's staging folder goes; nothing half-written is left anywhere under outputs/.
    await until(
      'staging to be cleaned',
      async () => existsSync(join(serverDir, 'outputs', '.incoming', id)),
      (present) => !present,
      20_000,
    );
    workers = workers.filter((w) => w !== victim);
  });

  it('passes a run on to a worker with its plugin, and fails it naming the package when none has it', async () => {
    const lacking = pluginFolder(scratch('lacking'), 'worker', ['queue-test']);
    const partial = rig.track(await TestWorker.start(lacking, redis.url, base, 'lacks-extra'));
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: {
        text: { type: 'qtest/text', version: 1, params: { value: 'x' } },
        echo: { type: 'qextra/echo', version: 1, params: {}, inputs: { text: { node: 'text', output: 'text' } } },
      },
    };
    // Some workers have the plugin: whichever worker takes the ticket, a worker with it runs the run.
    for (let i = 0; i < 3; i++) {
      const id = await submit(base, doc);
      const ended = await until(
        'the run',
        () => run(base, id),
        (r) => isEnded(r.status),
      );
      expect(ended.status).toBe('done');
      expect(ended.worker?.id).not.toBe(partial.id);
    }
    // None has it any more: the run fails, saying which package to install.
    for (const w of workers) await w.proc.kill('SIGTERM');
    const id = await submit(base, doc);
    const failed: RunSnapshot = await until(
      'the run',
      () => run(base, id),
      (r) => isEnded(r.status),
    );
    expect(failed.status).toBe('error');
    expect(failed.error?.code).toBe('WORKER_PLUGIN_MISSING');
    expect(failed.error?.message).toContain('kinegraph-queue-extra@0.2.0');
    expect(failed.worker?.id).toBe(partial.id);
  });
});
