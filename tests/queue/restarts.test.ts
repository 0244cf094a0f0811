// What survives a restart: the server SIGKILLed mid-queue forgets nothing, and Redis SIGKILLed mid-queue
// (append-only file, fsync always) loses no run it acknowledged; while it is down, submits fail with a
// clear error and reads still answer.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../../packages/editor/src/shared/protocol.js';
import { api, LiveClient } from '../../packages/editor/src/testing/client.js';
import { hasRedis, isEnded, jobs, Rig, run, slowWrite, startQueue, submit, until } from './harness.js';

let rig: Rig;
afterEach(() => rig?.stop(), 60_000);

function setUp(name: string, workers: number) {
  rig = new Rig();
  return startQueue(rig, name, { workers });
}

function expectOneOutput(serverDir: string, id: string, name: string) {
  expect(readdirSync(join(serverDir, 'outputs', id))).toEqual([`${name}.txt`]);
  expect(readFileSync(join(serverDir, 'outputs', id, `${name}.txt`), 'utf8')).toBe(`${name}+t\n`);
}

describe.skipIf(!hasRedis)('restarts', () => {
  it('a server SIGKILLed mid-queue forgets nothing: every run is listed again and ends once', async () => {
    const { server, serverDir } = await setUp('server-restart', 1);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await submit(server.url, slowWrite(`s${i}`, 400)));
    await until(
      'a run to finish',
      () => jobs(server.url, '&status=done'),
      (done) => done.length >= 1,
    );
    await server.proc.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000)); // The worker keeps running, its uploads waiting.
    await server.restart();
    rig.track(server);
    // Everything is listed again at once, from Redis.
    const listed = await jobs(server.url);
    expect(listed.map((j) => j.id).sort()).toEqual([...ids].sort());
    const live = await LiveClient.connect(server.url);
    try {
      const snapshot = await live.waitFor((m) => m.kind === 'snapshot');
      expect(snapshot.kind === 'snapshot' && snapshot.runs.length).toBe(8);
    } finally {
      live.close();
    }
    const ended = await until(
      'every run to end',
      () => Promise.all(ids.map((id) => run(server.url, id))),
      (runs) => runs.every((r) => isEnded(r.status)),
      90_000,
    );
    expect(ended.map((r) => r.status)).toEqual(ids.map(() => 'done'));
    for (const [i, id] of ids.entries()) expectOneOutput(serverDir, id, `s${i}`);
  });

  it('Redis SIGKILLed mid-queue: submits fail clearly while it is down, and no acknowledged run is lost', async () => {
    const { redis, server, serverDir } = await setUp('redis-restart', 2);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await submit(server.url, slowWrite(`r${i}`, 300)));
    await until(
      'a run to finish',
      () => jobs(server.url, '&status=done'),
      (done) => done.length >= 2,
    );
    await redis.proc.kill('SIGKILL');
    const refused = await until(
      'a clear refusal',
      () => api<ErrorBody>(server.url, '/api/runs', { method: 'POST', json: slowWrite('refused', 0) }),
      (r) => r.status === 503,
      10_000,
    );
    expect(refused.body.error.code).toBe('QUEUE_UNAVAILABLE');
    expect(refused.body.error.message).toMatch(/cannot be reached.*Nothing was changed/);
    // Reads answer from the server's memory meanwhile, and health says what is wrong.
    expect((await api(server.url, '/api/runs')).status).toBe(200);
    const health = await api<{ ok: boolean; queue: { redis: string } }>(server.url, '/api/health');
    expect(health.body.ok).toBe(true);
    expect(health.body.queue.redis).not.toBe('ready');
    await new Promise((r) => setTimeout(r, 1_000));
    await redis.restart();
    rig.track(redis);
    const ended = await until(
      'every acknowledged run to end',
      () => Promise.all(ids.map((id) => run(server.url, id))),
      (runs) => runs.every((r) => isEnded(r.status)),
      90_000,
    );
    expect(ended.map((r) => r.status)).toEqual(ids.map(() => 'done'));
    for (const [i, id] of ids.entries()) expectOneOutput(serverDir, id, `r${i}`);
    expect((await api<{ queue: { redis: string; workers: number } }>(server.url, '/api/health')).body.queue).toEqual({
      redis: 'ready',
      workers: 2,
    });
    // And the queue takes runs again.
    const after = await submit(server.url, slowWrite('after', 0));
    expect(
      (
        await until(
          'a new run',
          () => run(server.url, after),
          (r) => isEnded(r.status),
        )
      ).status,
    ).toBe('done');
  });
});
