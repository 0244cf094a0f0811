// A worker's transfers to and from its server: checked, bounded in time, retried while the server is away,
// and final on a coded refusal.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient } from './server-client.js';

let server: Server;
let base: string;
let dir: string;
/** What the fake server does next, by path. */
const behaviour = new Map<string, (res: import('node:http').ServerResponse, body: Buffer) => void>();
const seen: { path: string; claim: unknown; auth: unknown; body: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-client-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({
        path: req.url ?? '',
        claim: req.headers['x-kinegraph-claim'],
        auth: req.headers.authorization,
        body: body.toString(),
      });
      const next = behaviour.get(req.url ?? '');
      if (next) next(res, body);
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const limits = { idleMs: 200, totalMs: 5_000, retryForMs: 1_000 };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const input = (text: string) => ({ folder: 'inputs', path: 'a.png', size: text.length, sha256: sha(text) });

describe('worker transfers', () => {
  it('downloads an input with the token and claim, checking size and hash', async () => {
    behaviour.set('/api/worker/runs/r1/inputs/0', (res) => res.writeHead(200).end('hello'));
    const client = new ServerClient(`${base}/`, 'secret', limits);
    const dest = join(dir, 'a');
    await client.fetchInput('r1', 'claim-1', 0, input('hello'), dest);
    expect(readFileSync(dest, 'utf8')).toBe('hello');
    expect(seen.at(-1)).toMatchObject({ claim: 'claim-1', auth: 'Bearer secret' });
    await expect(client.fetchInput('r1', 'claim-1', 0, input('other'), join(dir, 'b'))).rejects.toMatchObject({
      code: 'INPUT_CHANGED',
      retriable: false,
    });
    expect(existsSync(join(dir, 'b'))).toBe(false);
  });

  it('retries while the server answers 5xx, then succeeds', async () => {
    let calls = 0;
    behaviour.set('/api/worker/runs/r2/commit', (res) => {
      if (++calls < 3) res.writeHead(503).end('{}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"committed":"yours","files":["/x"]}');
    });
    const client = new ServerClient(base, undefined, limits);
    expect(await client.commit('r2', 'c', [])).toEqual({ committed: 'yours', files: ['/x'] });
    expect(calls).toBe(3);
  });

  it('gives up at once on a coded 4xx (a lost claim), and after the retry time when the server is away', async () => {
    behaviour.set('/api/worker/runs/r3/commit', (res) =>
      res
        .writeHead(409, { 'content-type': 'application/json' })
        .end('{"error":{"code":"CLAIM_LOST","message":"gone"}}'),
    );
    const client = new ServerClient(base, undefined, limits);
    await expect(client.commit('r3', 'c', [])).rejects.toMatchObject({ code: 'CLAIM_LOST', retriable: false });
    const away = new ServerClient('http://127.0.0.1:1', undefined, limits);
    await expect(away.commit('r3', 'c', [])).rejects.toMatchObject({ code: 'SERVER_UNREACHABLE', retriable: true });
  });

  it('aborts a download that stalls', async () => {
    behaviour.set('/api/worker/runs/r4/inputs/0', (res) => {
      res.writeHead(200);
      res.write('he'); // ...and nothing more.
    });
    const client = new ServerClient(base, undefined, { ...limits, retryForMs: 0 });
    await expect(client.fetchInput('r4', 'c', 0, input('hello'), join(dir, 'c'))).rejects.toMatchObject({
      code: 'TRANSFER_TIMEOUT',
    });
  });

  it('uploads a file with its length', async () => {
    behaviour.set('/api/worker/runs/r5/files/sub/o%20k.txt', (res) => res.writeHead(201).end('{}'));
    const file = join(dir, 'up.txt');
    writeFileSync(file, 'payload');
    await new ServerClient(base, 'secret', limits).upload('r5', 'c', 'sub/o k.txt', file);
    expect(seen.at(-1)).toMatchObject({ path: '/api/worker/runs/r5/files/sub/o%20k.txt', body: 'payload' });
  });
});
