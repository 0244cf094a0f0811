// The server's HTTP + WebSocket API on a real listening port: fake nodes for queueing and cancelling, one
// real text-to-video run (2 steps) for previews, outputs, Range, caching and embedded workflows.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '@kinegraph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody, RunSnapshot, UploadResult } from '../shared/protocol.js';
import { api, LiveClient } from '../testing/client.js';
import { gatedWorkflow, PNG_1X1, release, releaseAll, testPlugin } from '../testing/fake-nodes.js';
import { type RunningServer, startServer } from './server.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

let cwd: string;
let runtime: Runtime;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'kg-serve-'));
  cpSync(join(root, 'workflows'), join(cwd, 'workflows'), { recursive: true });
  runtime = await Runtime.create({ plugins: [testPlugin], discover: { cwd: root } });
  server = await startServer({
    port: 0,
    cwd,
    runtime,
    uploadLimitBytes: 1024 * 1024,
    jsonLimitBytes: 256 * 1024,
    log: () => undefined,
  });
  base = server.url;
});

// A failed test must not leave a waiting run blocking the queue for the next ones.
afterEach(() => releaseAll());

afterAll(async () => {
  await server?.close();
  await runtime?.close();
  rmSync(cwd, { recursive: true, force: true });
});

const fake = (gate: string, extra: Record<string, unknown> = {}) =>
  gatedWorkflow(gate, { name: `wait ${gate}`, ...extra });

function fastTextToVideo(seed: number) {
  const doc = JSON.parse(readFileSync(join(cwd, 'workflows', 'text-to-video.json'), 'utf8')) as {
    nodes: Record<string, { params: Record<string, unknown> }>;
  };
  Object.assign(doc.nodes.sampler!.params, { steps: 2, previewEvery: 1, seed });
  Object.assign(doc.nodes.save!.params, { width: 64, height: 64 });
  return doc;
}

describe('catalogue', () => {
  it('GET /api/nodes lists every node type with its JSON Schemas and the port types', async () => {
    const { status, body } = await api<{
      nodes: { type: string; params: { properties: Record<string, unknown> } }[];
      portTypes: { name: string; color: string }[];
    }>(base, '/api/nodes');
    expect(status).toBe(200);
    const sampler = body.nodes.find((n) => n.type === 'kinegraph/stunet-sample');
    expect(sampler?.params.properties).toHaveProperty('steps');
    expect(body.portTypes.map((p) => p.name)).toEqual(expect.arrayContaining(['video', 'model', 'embedding']));
  });

  it('GET /api/workflows lists the examples', async () => {
    const { body } = await api<{ id: string; name: string; workflow: { format: string } }[]>(base, '/api/workflows');
    expect(body.map((w) => w.id)).toContain('text-to-video');
    expect(body.find((w) => w.id === 'text-to-video')?.workflow.format).toBe('kinegraph/workflow@1');
  });
});

const row = (
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
  status: number,
  code: string,
) => ({ method, path, headers, body, status, code });

describe('bad requests are coded 4xx answers', () => {
  it('an invalid workflow is a 400 with every validation problem', async () => {
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: { a: { type: 'test/nope', version: 1 }, b: { type: 'test/wait', version: 1, params: { gate: 3 } } },
    };
    const { status, body } = await api<ErrorBody>(base, '/api/runs', { method: 'POST', json: doc });
    expect(status).toBe(400);
    expect(body.error.code).toBe('WORKFLOW_INVALID');
    const codes = body.issues!.map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['NODE_TYPE_UNKNOWN', 'PARAM_INVALID', 'INPUT_MISSING']));
  });

  it.each([
    row('POST', '/api/runs', { 'content-type': 'application/json' }, '{"format":', 400, 'JSON_INVALID'),
    row('POST', '/api/runs', { 'content-type': 'text/plain' }, '{}', 415, 'CONTENT_TYPE_UNSUPPORTED'),
    row('POST', '/api/runs', { 'content-type': 'application/json' }, 'x'.repeat(300 * 1024), 413, 'BODY_TOO_LARGE'),
    row('POST', '/api/runs', { 'content-type': 'application/json' }, '[1,2]', 400, 'WORKFLOW_INVALID'),
    row('GET', '/api/nope', {}, undefined, 404, 'NOT_FOUND'),
    row('DELETE', '/api/runs', {}, undefined, 405, 'METHOD_NOT_ALLOWED'),
    row('GET', '/api/runs/missing', {}, undefined, 404, 'RUN_NOT_FOUND'),
    row('POST', '/api/runs/missing/cancel', {}, undefined, 404, 'RUN_NOT_FOUND'),
    row('GET', '/api/outputs/..%2F..%2Fetc%2Fpasswd', {}, undefined, 400, 'PATH_INVALID'),
    row('GET', '/api/outputs/%E0%A4%A', {}, undefined, 400, 'PATH_INVALID'),
    row('GET', '/api/outputs/nothing.mp4', {}, undefined, 404, 'NOT_FOUND'),
    row('POST', '/api/workflows/extract', {}, 'not a media file', 422, 'NO_EMBEDDED_WORKFLOW'),
  ])('$method $path → $status $code', async ({ method, path, headers, body, status, code }) => {
    const res = await api<ErrorBody>(base, path, { method, headers, ...(body !== undefined ? { body } : {}) });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it('survives garbage: random bodies, methods and paths, raw malformed HTTP', async () => {
    const paths = [
      '/api/runs',
      '/api/uploads',
      '/api/validate',
      '/api/workflows/extract',
      '/api/runs/x/cancel',
      '/api/outputs/%00',
      '/api/outputs/..%2f..%2fpackage.json',
      '/api/runs/%ZZ',
    ];
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.from(Array.from({ length: (i * 37) % 300 }, (_, k) => (k * 7919 + i) % 256));
      const res = await fetch(new URL(paths[i % paths.length]!, base), {
        method: i % 3 ? 'POST' : 'GET',
        ...(i % 3
          ? { body: bytes, headers: { 'content-type': i % 2 ? 'application/json' : 'application/octet-stream' } }
          : {}),
      });
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(500);
      await res.arrayBuffer();
    }
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('GARBAGE / HTTP/9\r\n\r\n'));
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect((await api(base, '/api/health')).status).toBe(200);
  });
});

describe('runs', () => {
  it('queues runs one at a time, streams state over the WebSocket and cancels queued and running runs', async () => {
    const live = await LiveClient.connect(base);
    const first = await api<{ id: string; run: RunSnapshot }>(base, '/api/runs', { method: 'POST', json: fake('q1') });
    const second = await api<{ id: string; run: RunSnapshot }>(base, '/api/runs', {
      method: 'POST',
      json: { workflow: fake('q2') },
    });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    // The first run shows its preview; the second waits in the queue meanwhile.
    await live.waitFor(
      (m) =>
        m.kind === 'event' &&
        m.runId === first.body.id &&
        m.event.type === 'node:progress' &&
        m.event.preview !== undefined,
    );
    expect((await api<RunSnapshot>(base, `/api/runs/${second.body.id}`)).body.status).toBe('queued');
    const running = await api<RunSnapshot>(base, `/api/runs/${first.body.id}`);
    expect(running.body.status).toBe('running');
    expect(running.body.nodes.b).toMatchObject({
      status: 'running',
      progress: 0.5,
      message: 'waiting',
      preview: { mime: 'image/png', width: 1, height: 1 },
    });

    const cancelQueued = await api<RunSnapshot>(base, `/api/runs/${second.body.id}/cancel`, { method: 'POST' });
    expect(cancelQueued.body.status).toBe('cancelled');
    const cancelRunning = await api<RunSnapshot>(base, `/api/runs/${first.body.id}/cancel`, { method: 'POST' });
    expect(cancelRunning.status).toBe(200);
    const ended = await live.waitForEnd(first.body.id);
    expect(ended.kind === 'run' && ended.run.status).toBe('cancelled');
    const again = await api<ErrorBody>(base, `/api/runs/${first.body.id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RUN_FINISHED');
    live.close();
  });

  it('a reconnecting client gets the current state, with the last preview per node', async () => {
    const watcher = await LiveClient.connect(base);
    const { body } = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: fake('r1') });
    await watcher.waitFor((m) => m.kind === 'event' && m.runId === body.id && m.event.type === 'node:progress');
    watcher.close();
    const late = await LiveClient.connect(base);
    const snapshot = await late.waitFor((m) => m.kind === 'snapshot');
    const run = snapshot.kind === 'snapshot' ? snapshot.runs.find((r) => r.id === body.id) : undefined;
    expect(run?.status).toBe('running');
    expect(run?.nodes.a?.status).toBe('done');
    expect(run?.nodes.b?.preview?.mime).toBe('image/png');
    release('r1');
    const end = await late.waitForEnd(body.id);
    expect(end.kind === 'run' && end.run.status).toBe('done');
    late.close();
  });

  it('GET /api/runs/:id/events streams Server-Sent Events until the run ends', async () => {
    const { body } = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: fake('s1') });
    const text = new Promise<string>((resolve, reject) => {
      request(new URL(`api/runs/${body.id}/events`, base), (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let data = '';
        res.on('data', (d: Buffer) => {
          data += d.toString();
          // The progress may come live, or already be in the first state message.
          if (data.includes('"message":"waiting"')) release('s1');
        });
        res.on('end', () => resolve(data));
      })
        .on('error', reject)
        .end();
    });
    const events = (await text).split('\n\n').filter((b) => b.startsWith('event:'));
    expect(events[0]).toMatch(/^event: run\n/);
    expect(events.at(-1)).toMatch(/"status":"done"/);
  });

  it('runtime errors name the failing node', async () => {
    const live = await LiveClient.connect(base);
    const doc = {
      format: 'kinegraph/workflow@1',
      nodes: {
        a: { type: 'test/text', version: 1, params: { value: 'x' } },
        f: { type: 'test/fail', version: 1, params: {}, inputs: { text: { node: 'a', output: 'text' } } },
      },
    };
    const { body } = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: doc });
    const end = await live.waitForEnd(body.id);
    expect(end.kind === 'run' && end.run.status).toBe('error');
    const run = (await api<RunSnapshot>(base, `/api/runs/${body.id}`)).body;
    expect(run.error).toMatchObject({ code: 'TEST_FAILURE', nodeId: 'f' });
    expect(run.nodes.f).toMatchObject({ status: 'error', error: { code: 'TEST_FAILURE' } });
    live.close();
  });
});

describe('a real text-to-video run', () => {
  let runId: string;
  let fileUrl: string;

  it('streams previews into the sampler and serves the video', async () => {
    const live = await LiveClient.connect(base);
    const submitted = performance.now();
    const { status, body } = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: fastTextToVideo(7) });
    expect(status).toBe(202);
    runId = body.id;
    await live.waitFor(
      (m) =>
        m.kind === 'event' &&
        m.runId === runId &&
        m.event.type === 'node:progress' &&
        m.event.nodeId === 'sampler' &&
        m.event.preview !== undefined,
      120_000,
    );
    const firstPreviewMs = performance.now() - submitted;
    const end = await live.waitForEnd(runId, 120_000);
    expect(end.kind === 'run' && end.run.status).toBe('done');
    const run = (await api<RunSnapshot>(base, `/api/runs/${runId}`)).body;
    expect(run.files).toHaveLength(1);
    fileUrl = run.files[0]!;
    expect(fileUrl).toMatch(/^\/api\/outputs\/text-to-video_\d+\.mp4$/);
    expect(run.nodes.save?.files).toEqual([fileUrl]);
    expect(run.nodes.sampler?.preview?.mime).toMatch(/^image\//);
    // Figures for the report, not assertions: wall-clock depends on the machine.
    console.log(`time to first sampler preview: ${firstPreviewMs.toFixed(0)} ms; run ${run.ms?.toFixed(0)} ms`);
    live.close();
  }, 180_000);

  it('serves outputs with their content type and byte ranges', async () => {
    const whole = await fetch(new URL(fileUrl, base));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const size = (await whole.arrayBuffer()).byteLength;
    const part = await fetch(new URL(fileUrl, base), { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(10);
    const tail = await fetch(new URL(fileUrl, base), { headers: { range: 'bytes=-5' } });
    expect(tail.headers.get('content-range')).toBe(`bytes ${size - 5}-${size - 1}/${size}`);
    const beyond = await fetch(new URL(fileUrl, base), { headers: { range: `bytes=${size}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
  });

  it('gives back the workflow embedded in the video', async () => {
    const bytes = await (await fetch(new URL(fileUrl, base))).arrayBuffer();
    const { status, body } = await api<{
      workflow: { format: string; nodes: Record<string, { params: Record<string, unknown> }> };
    }>(base, '/api/workflows/extract', { method: 'POST', body: Buffer.from(bytes) });
    expect(status).toBe(200);
    expect(body.workflow.format).toBe('kinegraph/workflow@1');
    expect(body.workflow.nodes.sampler?.params.seed).toBe(7);
  });

  it('re-running with one param changed reuses the cached nodes', async () => {
    const live = await LiveClient.connect(base);
    const submitted = performance.now();
    const { body } = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: fastTextToVideo(8) });
    await live.waitFor(
      (m) =>
        m.kind === 'event' && m.runId === body.id && m.event.type === 'node:progress' && m.event.preview !== undefined,
      120_000,
    );
    console.log(
      `time to first sampler preview with the model pack cached: ${(performance.now() - submitted).toFixed(0)} ms`,
    );
    await live.waitForEnd(body.id, 120_000);
    const run = (await api<RunSnapshot>(base, `/api/runs/${body.id}`)).body;
    expect(run.status).toBe('done');
    expect(run.cached).toEqual(expect.arrayContaining(['pack', 'prompt']));
    expect(run.executed).toEqual(expect.arrayContaining(['sampler', 'save']));
    expect(run.nodes.pack?.status).toBe('cached');
    live.close();
  }, 180_000);
});

describe('uploads', () => {
  it('stores sniffed files under inputs/ with generated safe names', async () => {
    const { status, body } = await api<UploadResult>(base, '/api/uploads?kind=image&name=../../evil%20name.exe', {
      method: 'POST',
      body: PNG_1X1,
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({ mime: 'image/png', kind: 'image', size: PNG_1X1.length });
    expect(body.name).toMatch(/^evil-name-[0-9a-f]{8}\.png$/);
    expect(existsSync(join(cwd, 'inputs', body.name))).toBe(true);
    // And a run can read it by that name.
    const check = await api<{ ok: boolean }>(base, '/api/validate', {
      method: 'POST',
      json: {
        format: 'kinegraph/workflow@1',
        nodes: { i: { type: 'kinegraph/load-image', version: 1, params: { path: body.path } } },
      },
    });
    expect(check.body.ok).toBe(true);
  });

  it.each([
    {
      query: 'kind=image',
      what: 'text',
      bytes: Buffer.from('plain text, not an image'),
      status: 415,
      code: 'UPLOAD_TYPE_UNSUPPORTED',
    },
    { query: 'kind=video', what: 'a PNG', bytes: PNG_1X1, status: 415, code: 'UPLOAD_TYPE_MISMATCH' },
    { query: 'kind=script', what: 'a PNG', bytes: PNG_1X1, status: 400, code: 'UPLOAD_KIND_INVALID' },
    { query: 'kind=image', what: 'nothing', bytes: Buffer.alloc(0), status: 400, code: 'UPLOAD_EMPTY' },
    {
      query: 'kind=image',
      what: '1 MB + 1',
      bytes: Buffer.concat([PNG_1X1, Buffer.alloc(1024 * 1024)]),
      status: 413,
      code: 'BODY_TOO_LARGE',
    },
  ])('?$query with $what → $status $code', async ({ query, bytes, status, code }) => {
    const res = await api<ErrorBody>(base, `/api/uploads?${query}`, { method: 'POST', body: bytes });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });
});

describe('access', () => {
  it('refuses a non-loopback address without a token', async () => {
    await expect(startServer({ port: 0, host: '0.0.0.0', cwd, runtime })).rejects.toMatchObject({
      code: 'TOKEN_REQUIRED',
    });
  });

  it('with a token, every request needs it (header, query or the cookie the page sets)', async () => {
    const guarded = await startServer({
      port: 0,
      cwd,
      runtime,
      token: 's3cret-token-0123456789',
      log: () => undefined,
    });
    try {
      expect((await api<ErrorBody>(guarded.url, '/api/nodes')).body.error.code).toBe('TOKEN_REQUIRED');
      expect((await api(guarded.url, '/api/nodes', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect(
        (await api(guarded.url, '/api/nodes', { headers: { authorization: 'Bearer s3cret-token-0123456789' } })).status,
      ).toBe(200);
      expect((await api(guarded.url, '/api/health?token=s3cret-token-0123456789')).status).toBe(200);
      expect(
        (await api(guarded.url, '/api/health', { headers: { cookie: 'kinegraph_token=s3cret-token-0123456789' } }))
          .status,
      ).toBe(200);
      await expect(LiveClient.connect(guarded.url)).rejects.toThrow(/401/);
      const live = await LiveClient.connect(guarded.url, { authorization: 'Bearer s3cret-token-0123456789' });
      expect((await live.waitFor((m) => m.kind === 'snapshot')).kind).toBe('snapshot');
      live.close();
    } finally {
      await guarded.close();
    }
  });

  it('refuses foreign Host headers (DNS rebinding) and cross-site writes', async () => {
    const status = await new Promise<number>((resolve) => {
      request(new URL('api/nodes', base), { headers: { host: 'evil.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).end();
    });
    expect(status).toBe(403);
    const cross = await api<ErrorBody>(base, '/api/runs', {
      method: 'POST',
      json: fake('x'),
      headers: { origin: 'http://evil.example' },
    });
    expect(cross.status).toBe(403);
    expect(cross.body.error.code).toBe('ORIGIN_NOT_ALLOWED');
  });
});
