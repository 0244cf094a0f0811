// The queue's order ("run next", `front`), each run's workflow and thumbnail, and a history kept on disk
// that survives a restart and skips damaged records, on a real listening port with the fake test nodes.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody, RunSnapshot, ServerMessage } from '../shared/protocol.js';
import { api, LiveClient } from '../testing/client.js';
import { release, releaseAll, testPlugin } from '../testing/fake-nodes.js';
import { HistoryStore } from './history-store.js';
import { type RunningServer, startServer } from './server.js';

let cwd: string;
let runtime: Runtime;
let server: RunningServer;
let warnings: string[];

const fake = (gate: string, name = `wait ${gate}`) => ({
  format: 'kinegraph/workflow@1',
  name,
  nodes: {
    a: { type: 'test/text', version: 1, params: { value: gate }, ui: { pos: [10, 20] } },
    b: { type: 'test/wait', version: 1, params: { gate }, inputs: { text: { node: 'a', output: 'text' } } },
  },
});

async function start(): Promise<void> {
  server = await startServer({ port: 0, cwd, runtime, log: (m) => warnings.push(m) });
}

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'kg-history-'));
  warnings = [];
  runtime = await Runtime.create({ plugins: [testPlugin], discover: false });
  await start();
});

afterEach(() => releaseAll());

afterAll(async () => {
  await server?.close();
  await runtime?.close();
  rmSync(cwd, { recursive: true, force: true });
});

const submit = async (body: unknown) =>
  (await api<{ id: string }>(server.url, '/api/runs', { method: 'POST', json: body })).body.id;

describe('queue order', () => {
  it('"front" queues a run ahead of the waiting ones, and run-next moves one to the head', async () => {
    const live = await LiveClient.connect(server.url);
    const first = await submit(fake('q1'));
    await live.waitFor((m) => m.kind === 'run' && m.run.id === first && m.run.status === 'running');
    const second = await submit(fake('q2'));
    const third = await submit(fake('q3'));
    const urgent = await submit({ workflow: fake('q4'), front: true });
    const queueNow = () =>
      [...live.messages].reverse().find((m) => m.kind === 'queue') as Extract<ServerMessage, { kind: 'queue' }>;
    expect(queueNow().queue).toEqual([urgent, second, third]);

    const moved = await api<RunSnapshot>(server.url, `/api/runs/${third}/run-next`, { method: 'POST' });
    expect(moved.status).toBe(200);
    expect(queueNow().queue).toEqual([third, urgent, second]);
    // A late client gets the order in its snapshot.
    const late = await LiveClient.connect(server.url);
    const snapshot = (await late.waitFor((m) => m.kind === 'snapshot')) as Extract<ServerMessage, { kind: 'snapshot' }>;
    expect(snapshot.queue).toEqual([third, urgent, second]);
    late.close();

    // Not waiting: 409.
    const running = await api<ErrorBody>(server.url, `/api/runs/${first}/run-next`, { method: 'POST' });
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('RUN_NOT_QUEUED');
    expect((await api<ErrorBody>(server.url, '/api/runs/nope/run-next', { method: 'POST' })).status).toBe(404);
    const bad = await api<ErrorBody>(server.url, '/api/runs', {
      method: 'POST',
      json: { workflow: fake('x'), front: 'yes' },
    });
    expect(bad.status).toBe(400);

    // They run in the new order.
    const started: string[] = [];
    live.socket.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      if (m.kind === 'run' && m.run.status === 'running') started.push(m.run.id);
    });
    for (const gate of ['q1', 'q3', 'q4', 'q2']) {
      release(gate);
      await new Promise((r) => setTimeout(r, 50));
    }
    await live.waitForEnd(second);
    expect(started).toEqual([third, urgent, second]);
    live.close();
  });
});

describe('a run’s workflow and thumbnail', () => {
  it('GET /api/jobs/:id has the workflow it ran, also once finished; the thumbnail is its last preview', async () => {
    const live = await LiveClient.connect(server.url);
    const doc = fake('w1', 'My workflow');
    const id = await submit(doc);
    release('w1');
    const end = (await live.waitForEnd(id)) as Extract<ServerMessage, { kind: 'run' }>;
    expect(end.run.thumbnail).toBe(`/api/runs/${id}/thumbnail`);
    const { body } = await api<{ workflow: { name: string; nodes: Record<string, { ui?: unknown }> } }>(
      server.url,
      `/api/jobs/${id}`,
    );
    expect(body.workflow.name).toBe('My workflow');
    expect(body.workflow.nodes.a!.ui).toEqual({ pos: [10, 20] });
    // A client connecting now gets the finished run without its nodes' previews; GET /api/runs/:id has them.
    const late = await LiveClient.connect(server.url);
    const snapshot = (await late.waitFor((m) => m.kind === 'snapshot')) as Extract<ServerMessage, { kind: 'snapshot' }>;
    expect(snapshot.runs.find((r) => r.id === id)!.nodes.b!.preview).toBeUndefined();
    late.close();
    expect((await api<RunSnapshot>(server.url, `/api/runs/${id}`)).body.nodes.b!.preview?.mime).toBe('image/png');
    const res = await fetch(new URL(end.run.thumbnail!, server.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    live.close();
  });
});

describe('history on disk', () => {
  it('finished runs survive a restart; damaged records are skipped with a warning', async () => {
    const live = await LiveClient.connect(server.url);
    const id = await submit(fake('h1', 'Before the restart'));
    release('h1');
    await live.waitForEnd(id);
    live.close();
    const folder = join(cwd, '.kinegraph', 'history');
    expect(readdirSync(folder)).toContain(`${id}.json`);
    // A damaged record and a stray temporary file from an interrupted write.
    writeFileSync(join(folder, '00000000-0000-0000-0000-000000000000.json'), '{ not json');
    writeFileSync(join(folder, `${id}.json.abcd.tmp`), '{}');

    await server.close();
    warnings = [];
    await start();
    const runs = (await api<RunSnapshot[]>(server.url, '/api/runs')).body;
    const again = runs.find((r) => r.id === id);
    expect(again?.status).toBe('done');
    expect(again?.name).toBe('Before the restart');
    expect((await api<{ workflow: { name: string } }>(server.url, `/api/jobs/${id}`)).body.workflow.name).toBe(
      'Before the restart',
    );
    expect((await fetch(new URL(`/api/runs/${id}/thumbnail`, server.url))).status).toBe(200);
    expect(warnings.join('\n')).toMatch(/skipping history record 00000000-0000-0000-0000-000000000000\.json/);
    expect(readdirSync(folder).some((f) => f.endsWith('.tmp'))).toBe(false);
  });

  it('the store reads records back oldest first and deletes the ones it is told to', () => {
    const folder = mkdtempSync(join(tmpdir(), 'kg-history-store-'));
    try {
      const store = new HistoryStore(folder, () => undefined);
      const ids = Array.from({ length: 3 }, (_, i) => `00000000-0000-0000-0000-00000000000${i}`);
      for (const [i, id] of ids.entries())
        store.save({
          snapshot: {
            id,
            status: 'done',
            createdAt: 1000 + i,
            order: [],
            nodes: {},
            files: [],
            executed: [],
            cached: [],
          },
          workflow: { n: i },
        });
      expect(store.load().map((r) => r.snapshot.id)).toEqual(ids);
      store.delete([ids[0]!]);
      expect(store.load().map((r) => r.snapshot.id)).toEqual(ids.slice(1));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('partial runs and modes', () => {
  it('"targets" runs only what they need; unknown targets and bad bodies are coded errors; skipped nodes are listed', async () => {
    const live = await LiveClient.connect(server.url);
    const doc = fake('t1');
    const partial = await api<{ id: string; run: RunSnapshot }>(server.url, '/api/runs', {
      method: 'POST',
      json: { workflow: doc, targets: ['a'] },
    });
    expect(partial.status).toBe(202);
    expect(partial.body.run.order).toEqual(['a']);
    expect(partial.body.run.targets).toEqual(['a']);
    await live.waitForEnd(partial.body.id);

    const unknown = await api<ErrorBody>(server.url, '/api/runs', {
      method: 'POST',
      json: { workflow: doc, targets: ['zz'] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues?.map((i) => i.code)).toEqual(['TARGET_UNKNOWN']);
    const bad = await api<ErrorBody>(server.url, '/api/runs', {
      method: 'POST',
      json: { workflow: doc, targets: 'a' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('TARGETS_INVALID');

    const muted = fake('t2');
    (muted.nodes.b as { mode?: string }).mode = 'mute';
    const skipped = await api<{ id: string; run: RunSnapshot }>(server.url, '/api/runs', {
      method: 'POST',
      json: muted,
    });
    expect(skipped.body.run.nodes.b?.status).toBe('skipped');
    const end = (await live.waitForEnd(skipped.body.id)) as Extract<ServerMessage, { kind: 'run' }>;
    expect(end.run.status).toBe('done');
    live.close();
  });
});
