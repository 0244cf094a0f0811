// `kinegraph serve --queue` and `kinegraph worker` through the real CLI: usage errors, and coded refusals
// when Redis is unreachable, would evict keys, or already has a server for the queue.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  hasRedis,
  Proc,
  pluginFolder,
  Rig,
  root,
  scratch,
  TestRedis,
  TestServer,
  testEnv,
} from './harness.js';

const cli = join(root, 'packages/core/bin/kinegraph.js');
const kinegraph = (args: string[], cwd = root) =>
  spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: testEnv, timeout: 60_000 });

describe('kinegraph worker usage', () => {
  it.each([
    [['worker', '--queue', 'redis://127.0.0.1:1'], /worker needs --queue .* and --server/],
    [['worker', '--queue', 'redis://x', '--server', 'http://x', '--concurrency', '0'], /--concurrency takes/],
    [['worker', '--queue', 'redis://x', '--server', 'http://x', '--device', 'tpu'], /--device must be/],
    [['worker', '--queue', 'localhost:6379', '--server', 'http://x'], /^QUEUE_URL_INVALID: /m],
  ])('%j exits 1 with a clear message', (args, message) => {
    const r = kinegraph(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('says which Redis it cannot reach (serve and worker)', async () => {
    const port = await freePort();
    const serve = kinegraph(['serve', '--port', '0', '--queue', `redis://127.0.0.1:${port}`], scratch('cli'));
    expect(serve.status).toBe(1);
    expect(serve.stderr).toMatch(new RegExp(`^QUEUE_UNAVAILABLE: .*127\\.0\\.0\\.1:${port}`, 'm'));
    const worker = kinegraph(['worker', '--queue', `redis://127.0.0.1:${port}`, '--server', 'http://127.0.0.1:1']);
    expect(worker.status).toBe(1);
    expect(worker.stderr).toMatch(/^QUEUE_UNAVAILABLE: /m);
  }, 60_000);
});

describe.skipIf(!hasRedis)('kinegraph serve --queue refuses', () => {
  const rig = new Rig();
  let redis: TestRedis;
  let dir: string;
  beforeAll(async () => {
    dir = scratch('cli-redis');
    rig.dirs.push(dir);
    redis = rig.track(await TestRedis.start(dir));
  });
  afterAll(() => rig.stop());

  it('a Redis that may evict keys', async () => {
    const client = redis.client();
    await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const r = kinegraph(['serve', '--port', '0', '--queue', redis.url], pluginFolder(dir, 'evict', ['queue-test']));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^REDIS_EVICTION_POLICY: .*allkeys-lru/m);
      expect(r.stderr).toMatch(/hint: .*noeviction/);
    } finally {
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      client.disconnect();
    }
  });

  it('a second server on the same queue, while another on its own name is welcome', async () => {
    const first = rig.track(await TestServer.start(pluginFolder(dir, 'first', ['queue-test']), redis.url));
    const second = kinegraph(
      ['serve', '--port', '0', '--queue', redis.url],
      pluginFolder(dir, 'second', ['queue-test']),
    );
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/^QUEUE_SERVER_RUNNING: /m);
    const other = new Proc(
      spawn(process.execPath, [cli, 'serve', '--port', '0', '--queue', `${redis.url}?name=other`], {
        cwd: pluginFolder(dir, 'third', ['queue-test']),
        env: testEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    rig.track(other);
    expect(await other.line(/^http:\/\//)).toMatch(/^http:/);
    expect(first.proc.child.exitCode).toBeNull();
  });
});
