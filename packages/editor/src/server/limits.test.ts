// The server's bounds on a real listening port: nesting, queue, finished runs, uploads (structure, size,
// quota, concurrency), 413 closing the connection, idle and surplus connections, tokens, and server paths.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineNode, KinegraphError, Runtime, Type } from '@kinegraph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody, RunSnapshot } from '../shared/protocol.js';
import { api, LiveClient } from '../testing/client.js';
import { gatedWorkflow, PNG_1X1, release, releaseAll, testPlugin } from '../testing/fake-nodes.js';
import { resolveToken } from './serve.js';
import { type RunningServer, startServer } from './server.js';

let cwd: string;
const leaky = defineNode({
  type: 'leak/paths',
  version: 1,
  title: 'Leaky',
  category: 'test',
  description: 'Fails with a message full of server paths.',
  params: Type.Object({}),
  inputs: {},
  outputs: { text: { type: 'text' } },
  run() {
    throw new KinegraphError('MODEL_FILE_CORRUPT', `${cwd}/models/pack/stunet.onnx does not match; see /etc/passwd`, {
      hint: `Restore ${homedir()}/somewhere/stunet.onnx, or /usr/lib/x.so. Pointer /nodes/a stays.`,
    });
  },
});

const big = defineNode({
  type: 'leak/big',
  version: 1,
  title: 'Big',
  category: 'test',
  description: 'Declares frames × 1 MB.',
  params: Type.Object({ frames: Type.Integer({ minimum: 1, default: 1 }) }),
  inputs: {},
  outputs: { text: { type: 'text' } },
  memory: ({ params }) => ({ outputs: {}, scratchBytes: params.frames * 1024 * 1024 }),
  run: () => ({ text: 'made' }),
});

let runtime: Runtime;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'kg-limits-'));
  runtime = await Runtime.create({ plugins: [testPlugin, { name: 'leak', nodes: [leaky, big] }], discover: false });
  server = await startServer({
    port: 0,
    cwd,
    runtime,
    log: () => undefined,
    memoryBudgetBytes: 64 * 1024 * 1024,
    limits: {
      jsonBodyBytes: 256 * 1024,
      uploadBytes: 64 * 1024,
      uploadQuotaBytes: 1024,
      concurrentUploads: 2,
      uploadMaxSide: 4096,
      queuedRuns: 3,
      finishedRuns: 2,
      connections: 24,
      headersTimeoutMs: 400,
      keepAliveTimeoutMs: 300,
      idleTimeoutMs: 800,
    },
  });
  base = server.url;
});
afterEach(() => releaseAll());
afterAll(async () => {
  await server?.close();
  await runtime?.close();
  rmSync(cwd, { recursive: true, force: true });
});

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('JSON nesting', () => {
  it.each([
    ['metadata', (d: string) => `{"format":"kinegraph/workflow@1","nodes":{},"metadata":${d}}`],
    [
      'params',
      (d: string) =>
        `{"format":"kinegraph/workflow@1","nodes":{"a":{"type":"test/text","version":1,"params":{"value":${d}}}}}`,
    ],
  ])('65 levels under %s are a 400 JSON_TOO_DEEP, on every JSON route', async (_where, make) => {
    for (const path of ['/api/runs', '/api/validate']) {
      const res = await api<ErrorBody>(base, path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: make(nested(64)),
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('JSON_TOO_DEEP');
    }
  });

  it('brackets inside strings do not count', async () => {
    const doc = { ...gatedWorkflow('deep-string'), metadata: { note: '['.repeat(1000) } };
    const res = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: doc });
    expect(res.status).toBe(202);
    release('deep-string');
  });
});

describe('the queue', () => {
  it('caps waiting runs with 429 QUEUE_FULL, and trims finished runs as they end', async () => {
    const ids: string[] = [];
    // One running, three waiting: the fifth is refused.
    for (let i = 0; i < 4; i++) {
      const res = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: gatedWorkflow(`q${i}`) });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const refused = await api<ErrorBody>(base, '/api/runs', { method: 'POST', json: gatedWorkflow('q4') });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('QUEUE_FULL');
    const live = await LiveClient.connect(base);
    for (let i = 0; i < 4; i++) release(`q${i}`);
    await live.waitForEnd(ids[3]!);
    live.close();
    // Only the last two finished runs are remembered, without another submit to trigger the trimming.
    const runs = (await api<RunSnapshot[]>(base, '/api/runs')).body;
    expect(runs.filter((r) => ['done', 'error', 'cancelled'].includes(r.status)).map((r) => r.id)).toEqual(
      ids.slice(2),
    );
  });
});

describe('the memory budget', () => {
  const doc = (frames: number) => ({
    format: 'kinegraph/workflow@1',
    nodes: { b: { type: 'leak/big', version: 1, params: { frames } } },
  });

  it('a run known to need more than the server\u2019s budget is a 400 before it is queued', async () => {
    const refused = await api<ErrorBody>(base, '/api/runs', { method: 'POST', json: doc(65) });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('MEMORY_BUDGET_EXCEEDED');
    expect(refused.body.error.message).toMatch(/"b" \(leak\/big\) would allocate 65\.0 MB, more than .* 64\.0 MB/);
    expect((await api(base, '/api/runs', { method: 'POST', json: doc(64) })).status).toBe(202);
  });

  it('a run may ask for a smaller budget, never a larger one', async () => {
    const smaller = await api<ErrorBody>(base, '/api/runs', {
      method: 'POST',
      json: { workflow: doc(8), memoryBudgetBytes: 4 * 1024 * 1024 },
    });
    expect(smaller.body.error.code).toBe('MEMORY_BUDGET_EXCEEDED');
    const larger = await api<ErrorBody>(base, '/api/runs', {
      method: 'POST',
      json: { workflow: doc(65), memoryBudgetBytes: 1024 ** 4 },
    });
    expect(larger.body.error.code).toBe('MEMORY_BUDGET_EXCEEDED');
    const bad = await api<ErrorBody>(base, '/api/runs', {
      method: 'POST',
      json: { workflow: doc(1), memoryBudgetBytes: -1 },
    });
    expect(bad.body.error.code).toBe('MEMORY_BUDGET_INVALID');
  });
});

describe('uploads', () => {
  const png = (width: number, height: number) => {
    const bytes = Buffer.from(PNG_1X1);
    bytes.writeUInt32BE(width, 16);
    bytes.writeUInt32BE(height, 20);
    // A correct CRC over the edited IHDR: only the declared size is wrong.
    bytes.writeUInt32BE(crc(bytes.subarray(12, 29)), 29);
    return bytes;
  };

  it.each([
    { what: 'an 8-byte "PNG"', bytes: PNG_1X1.subarray(0, 8), code: 'UPLOAD_CONTENT_INVALID' },
    { what: 'a PNG cut short', bytes: PNG_1X1.subarray(0, PNG_1X1.length - 12), code: 'UPLOAD_CONTENT_INVALID' },
    { what: 'a PNG with a damaged chunk', bytes: Buffer.from(PNG_1X1).fill(7, 40, 42), code: 'UPLOAD_CONTENT_INVALID' },
    { what: 'a 16384² PNG header', bytes: png(16384, 16384), code: 'UPLOAD_CONTENT_INVALID' },
    {
      what: 'a GIF header only',
      bytes: Buffer.from('GIF89a\x10\x00\x10\x00\x00\x00\x00', 'latin1'),
      code: 'UPLOAD_CONTENT_INVALID',
    },
    {
      what: 'an MP4 magic',
      bytes: Buffer.from('\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2', 'latin1'),
      code: 'UPLOAD_CONTENT_INVALID',
    },
  ])('$what is a 415 $code', async ({ bytes, code }) => {
    const res = await api<ErrorBody>(base, '/api/uploads?kind=image', { method: 'POST', body: bytes });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe(code);
  });

  it('a whole PNG is stored until the quota of inputs/ is used up (413 UPLOAD_QUOTA_EXCEEDED)', async () => {
    const statuses: number[] = [];
    let last: ErrorBody | undefined;
    for (let i = 0; i < 20; i++) {
      const res = await api<ErrorBody>(base, '/api/uploads?kind=image', { method: 'POST', body: PNG_1X1 });
      statuses.push(res.status);
      last = res.body;
    }
    // 1024 bytes of quota hold 14 of these 70-byte files.
    expect(statuses.filter((s) => s === 201)).toHaveLength(Math.floor(1024 / PNG_1X1.length));
    expect(statuses.at(-1)).toBe(413);
    expect(last?.error.code).toBe('UPLOAD_QUOTA_EXCEEDED');
  });

  it('at most 2 uploads are received at once (429 TOO_MANY_UPLOADS)', async () => {
    const slow = await Promise.all([rawSocket(), rawSocket()]);
    for (const s of slow)
      s.write('POST /api/uploads?kind=image HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 60000\r\n\r\nabc');
    await new Promise((r) => setTimeout(r, 100));
    const res = await api<ErrorBody>(base, '/api/uploads?kind=image', { method: 'POST', body: PNG_1X1 });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('TOO_MANY_UPLOADS');
    for (const s of slow) s.destroy();
  });

  it('an endless chunked upload gets its 413, and the server closes the connection instead of reading on', async () => {
    const socket = await rawSocket();
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => undefined);
    socket.write('POST /api/uploads?kind=image HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    const end = closed(socket);
    let open = true;
    void end.then(() => (open = false));
    // Keep sending (well past the 64 KB limit) until the server hangs up; 64 MB would mean it reads on.
    while (open && sent < 64 * 1024 * 1024) {
      const ok = socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n');
      sent += chunk.length;
      if (!ok) await Promise.race([new Promise((r) => socket.once('drain', r)), end]);
    }
    await end;
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('BODY_TOO_LARGE');
    expect(sent).toBeLessThan(32 * 1024 * 1024);
  });
});

describe('keep-alive', () => {
  it('an error answer to a request without a body keeps the connection (only unread bodies close it)', async () => {
    const socket = await rawSocket();
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const request = 'GET /api/runs/missing HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
    socket.write(request);
    await new Promise((r) => setTimeout(r, 100));
    expect(socket.destroyed).toBe(false);
    socket.write(request);
    await new Promise((r) => setTimeout(r, 100));
    expect(answer.match(/HTTP\/1\.1 404/g)).toHaveLength(2);
    expect(answer).not.toMatch(/connection: close/i);
    socket.destroy();
  });
});

describe('connections', () => {
  it('closes sockets that send nothing, and a full house still serves a new client', async () => {
    const idle = await Promise.all(Array.from({ length: 40 }, () => rawSocket().catch(() => undefined)));
    // Over the cap of 24: the oldest idle ones were closed to make room, and a real request is answered.
    expect((await api(base, '/api/health')).status).toBe(200);
    const sockets = idle.filter((s): s is Socket => s !== undefined);
    await Promise.all(sockets.map(closed));
    // A keep-alive connection is closed after its idle time.
    const kept = await rawSocket();
    let answer = '';
    kept.on('data', (d: Buffer) => (answer += d.toString()));
    kept.write('GET /api/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    await closed(kept);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    // And slowloris: headers never finished are cut off by the headers timeout, with a coded 408.
    const slow = await rawSocket();
    let slowAnswer = '';
    slow.on('data', (d: Buffer) => (slowAnswer += d.toString()));
    slow.write('GET /api/health HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    const timer = setInterval(() => slow.writable && slow.write('x-a: b\r\n'), 100);
    await closed(slow);
    clearInterval(timer);
    expect(slowAnswer).toMatch(/^HTTP\/1\.1 408[\s\S]*REQUEST_TIMEOUT/);
  });
});

describe('tokens', () => {
  it('refuses tokens shorter than 16 characters', async () => {
    await expect(startServer({ port: 0, cwd, runtime, token: 'short' })).rejects.toMatchObject({
      code: 'TOKEN_TOO_SHORT',
    });
  });

  it('reads the token from --token, --token-file, KINEGRAPH_TOKEN or KINEGRAPH_TOKEN_FILE, files only when private', () => {
    const file = join(cwd, 'token');
    writeFileSync(file, 'from-a-file-0123456789\n');
    chmodSync(file, 0o600);
    const other = join(cwd, 'other-token');
    writeFileSync(other, 'from-the-flag-file-0123\n');
    chmodSync(other, 0o600);
    expect(resolveToken({}, { KINEGRAPH_TOKEN: 'from-the-env-0123456789' })).toBe('from-the-env-0123456789');
    expect(resolveToken({}, { KINEGRAPH_TOKEN_FILE: file })).toBe('from-a-file-0123456789');
    expect(resolveToken({ token: 'flag-wins-0123456789' }, { KINEGRAPH_TOKEN: 'x' })).toBe('flag-wins-0123456789');
    // The flag's file comes before either variable.
    expect(resolveToken({ tokenFile: other }, { KINEGRAPH_TOKEN: 'x', KINEGRAPH_TOKEN_FILE: file })).toBe(
      'from-the-flag-file-0123',
    );
    expect(resolveToken({}, {})).toBeUndefined();
    for (const [flags, env] of [
      [{}, { KINEGRAPH_TOKEN_FILE: file }],
      [{ tokenFile: file }, {}],
    ] as const) {
      chmodSync(file, 0o644);
      expect(() => resolveToken(flags, env)).toThrow(expect.objectContaining({ code: 'TOKEN_FILE_INVALID' }));
      chmodSync(file, 0o640); // readable by the group is readable by others too
      expect(() => resolveToken(flags, env)).toThrow(expect.objectContaining({ code: 'TOKEN_FILE_INVALID' }));
    }
    expect(() => resolveToken({ tokenFile: join(cwd, 'missing') }, {})).toThrow(
      expect.objectContaining({ code: 'TOKEN_FILE_INVALID', hint: 'Point --token-file at a file holding the token.' }),
    );
    expect(() => resolveToken({}, { KINEGRAPH_TOKEN_FILE: join(cwd, 'missing') })).toThrow(
      expect.objectContaining({ code: 'TOKEN_FILE_INVALID' }),
    );
    writeFileSync(other, '\n');
    expect(() => resolveToken({ tokenFile: other }, {})).toThrow(/is empty/);
  });
});

describe('server paths', () => {
  it('never reach a client: errors are relative to the server folder, ~/..., or a basename', async () => {
    const live = await LiveClient.connect(base);
    const doc = { format: 'kinegraph/workflow@1', nodes: { a: { type: 'leak/paths', version: 1, params: {} } } };
    const { body } = await api<{ id: string }>(base, '/api/runs', { method: 'POST', json: doc });
    await live.waitForEnd(body.id);
    const run = (await api<RunSnapshot>(base, `/api/runs/${body.id}`)).body;
    const everything = JSON.stringify([run, live.messages]);
    expect(everything).not.toContain(cwd);
    expect(everything).not.toContain(homedir());
    expect(everything).not.toContain('/etc/passwd');
    expect(everything).not.toContain('/usr/lib');
    expect(run.error?.message).toBe('models/pack/stunet.onnx does not match; see \u2026/passwd');
    expect(run.error?.hint).toBe('Restore ~/somewhere/stunet.onnx, or \u2026/x.so. Pointer /nodes/a stays.');
    live.close();
  });
});

function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
