/**
 * The queue's test rig: a real `redis-server` on a free loopback port with its own temporary folder, and
 * `kinegraph serve --queue` / `kinegraph worker` processes started through the real CLI, in folders whose
 * `plugins/` hold the tiny test plugins of `fixtures/plugins`. Every process is stopped by its pid.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobPage, JobSummary } from '../../packages/editor/src/queue/backend.js';
import type { RunSnapshot } from '../../packages/editor/src/shared/protocol.js';
import { api } from '../../packages/editor/src/testing/client.js';
import { freePort, Proc, TestRedis } from '../../packages/editor/src/testing/processes.js';

export { freePort, hasRedis, Proc, TestRedis } from '../../packages/editor/src/testing/processes.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'packages/core/bin/kinegraph.js');
const fixtures = join(root, 'tests/queue/fixtures/plugins');

/** Environment of every process: short claims so a killed worker is noticed in seconds, no disk caches. */
export const testEnv = { ...process.env, KINEGRAPH_QUEUE_CLAIM_MS: '1500', KINEGRAPH_CACHE: 'off' };

/** A scratch folder removed by {@link Rig.stop}. */
export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kg-queue-${prefix}-`));
}

/** A folder whose `plugins/` holds the named fixture plugins (`queue-test`, `queue-extra`). */
export function pluginFolder(base: string, name: string, plugins: readonly string[]): string {
  const dir = join(base, name);
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  for (const plugin of plugins) symlinkSync(join(fixtures, plugin), join(dir, 'plugins', plugin));
  return dir;
}

/** A `kinegraph serve --queue` process on a fixed port (so it can be restarted where workers look). */
export class TestServer {
  proc!: Proc;
  private constructor(
    readonly cwd: string,
    readonly port: number,
    readonly queue: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  static async start(cwd: string, queue: string): Promise<TestServer> {
    const server = new TestServer(cwd, await freePort(), queue);
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    this.proc = new Proc(
      spawn(process.execPath, [cli, 'serve', '--port', String(this.port), '--queue', this.queue], {
        cwd: this.cwd,
        env: testEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    await this.proc.line(/^http:\/\//, 60_000);
  }
}

/** A `kinegraph worker` process. */
export class TestWorker {
  id = '';
  private constructor(
    readonly name: string,
    readonly proc: Proc,
  ) {}

  static async start(
    cwd: string,
    queue: string,
    server: string,
    name: string,
    options: { concurrency?: number; workDir?: string } = {},
  ): Promise<TestWorker> {
    const args = [cli, 'worker', '--queue', queue, '--server', server, '--name', name];
    args.push('--work-dir', options.workDir ?? join(cwd, `.work-${name}`));
    if (options.concurrency) args.push('--concurrency', String(options.concurrency));
    const proc = new Proc(spawn(process.execPath, args, { cwd, env: testEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    const worker = new TestWorker(name, proc);
    worker.id = await proc.line(new RegExp(`^${name}-`), 60_000);
    return worker;
  }
}

/** Everything a test started, stopped in reverse order. */
export class Rig {
  readonly procs: Proc[] = [];
  readonly dirs: string[] = [];

  track<T extends { proc: Proc } | Proc>(thing: T): T {
    this.procs.push(thing instanceof Proc ? thing : thing.proc);
    return thing;
  }

  async stop(): Promise<void> {
    // Workers first, then servers, Redis last: each hands its work on while the next is still there.
    const rank = (p: Proc) => (p.child.spawnfile === 'redis-server' ? 2 : p.child.spawnargs.includes('serve') ? 1 : 0);
    for (const proc of [...this.procs].reverse().sort((a, b) => rank(a) - rank(b))) {
      const killed = proc.kill('SIGTERM');
      const timeout = new Promise((r) => setTimeout(r, 5_000));
      await Promise.race([killed, timeout]);
      await proc.kill('SIGKILL');
    }
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** A queue of a test's own, started by {@link startQueue}. */
export interface TestQueue {
  readonly redis: TestRedis;
  readonly server: TestServer;
  /** The server's folder: its `plugins/`, and the runs' `outputs/`. */
  readonly serverDir: string;
  /** The folder workers start in (its `plugins/`), for more workers. */
  readonly workerDir: string;
  /** Workers `w1`, `w2`, … in start order. */
  readonly workers: TestWorker[];
}

/**
 * Redis in a scratch folder `kg-queue-<name>-…`, a server and `workers` workers (`w1`, `w2`, …, started
 * at once), server and workers with the fixture plugins `plugins`; everything tracked by `rig`.
 */
export async function startQueue(
  rig: Rig,
  name: string,
  { plugins = ['queue-test'], workers = 1 }: { plugins?: readonly string[]; workers?: number } = {},
): Promise<TestQueue> {
  const dir = scratch(name);
  rig.dirs.push(dir);
  const redis = rig.track(await TestRedis.start(dir));
  const serverDir = pluginFolder(dir, 'server', plugins);
  const workerDir = pluginFolder(dir, 'worker', plugins);
  const server = rig.track(await TestServer.start(serverDir, redis.url));
  const started = await Promise.all(
    Array.from({ length: workers }, async (_, i) =>
      rig.track(await TestWorker.start(workerDir, redis.url, server.url, `w${i + 1}`)),
    ),
  );
  return { redis, server, serverDir, workerDir, workers: started };
}

// ---- talking to the server ------------------------------------------------------------------------------

/** A tiny workflow: text → slow (`ms`) → write `<name>.txt`. */
export function slowWrite(name: string, ms: number, value = name) {
  return {
    format: 'kinegraph/workflow@1',
    name,
    nodes: {
      text: { type: 'qtest/text', version: 1, params: { value } },
      slow: {
        type: 'qtest/slow',
        version: 1,
        params: { ms, tag: 't' },
        inputs: { text: { node: 'text', output: 'text' } },
      },
      write: { type: 'qtest/write', version: 1, params: { name }, inputs: { text: { node: 'slow', output: 'text' } } },
    },
  };
}

export async function submit(base: string, workflow: unknown, options: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await api<{ id: string }>(base, '/api/runs', {
    method: 'POST',
    json: { workflow, ...options },
  });
  if (status !== 202) throw new Error(`submit answered ${status}: ${JSON.stringify(body)}`);
  return body.id;
}

export async function run(base: string, id: string): Promise<RunSnapshot> {
  return (await api<RunSnapshot>(base, `/api/runs/${id}`)).body;
}

export async function jobs(base: string, query = ''): Promise<JobSummary[]> {
  return (await api<JobPage>(base, `/api/jobs?limit=500${query}`)).body.jobs;
}

/** Polls until `test` passes (or throws with the last value seen). */
export async function until<T>(
  what: string,
  get: () => Promise<T>,
  test: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (test(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)} ${lastError ? String(lastError) : ''}`,
  );
}

export const isEnded = (status: string) => status === 'done' || status === 'error' || status === 'cancelled';
