// The queue (kinegraph serve --queue + kinegraph worker, BullMQ on a local redis-server): throughput of
// trivial-node workflows with 1, 2 and 4 workers against the in-process queue of `kinegraph serve`; the
// latency the queue adds from submit to the first node's start (median, p99), side by side with the
// in-process server; Redis memory per queued job; Redis commands and bytes per run (docs/scaling.md).
// Needs redis-server (Debian: apt-get install redis-server) and a build (npm run build).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import WebSocket from 'ws';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/core/bin/kinegraph.js');
const fixtures = join(root, 'tests/queue/fixtures/plugins');
const RUNS = Number(process.env.KG_BENCH_QUEUE_RUNS ?? 120);
const LATENCY_RUNS = Number(process.env.KG_BENCH_QUEUE_LATENCY ?? 60);
const MEMORY_JOBS = Number(process.env.KG_BENCH_QUEUE_MEMORY ?? 1000);
const env = { ...process.env, KINEGRAPH_CACHE: 'off' };

/** A trivial workflow: text → slow(0 ms) → write a small file (so each run uploads and commits one output). */
const trivial = (i) => ({
  format: 'kinegraph/workflow@1',
  name: `bench-${i}`,
  nodes: {
    text: { type: 'qtest/text', version: 1, params: { value: `bench ${i}` } },
    slow: {
      type: 'qtest/slow',
      version: 1,
      params: { ms: 0, tag: '' },
      inputs: { text: { node: 'text', output: 'text' } },
    },
    write: {
      type: 'qtest/write',
      version: 1,
      params: { name: 'out' },
      inputs: { text: { node: 'slow', output: 'text' } },
    },
  },
});

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(command, args, options, ready) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      output += d.toString();
      const line = output.split('\n').find((l) => ready.test(l));
      if (line) {
        child.stdout.off('data', onData);
        resolve({ child, line: line.trim(), stop: () => stop(child) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (output += d.toString()));
    child.on('exit', (code) => reject(new Error(`${args.slice(0, 2).join(' ')} exited ${code}:\n${output}`)));
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

function folder(base, name, plugins) {
  const dir = join(base, name);
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  for (const p of plugins) symlinkSync(join(fixtures, p), join(dir, 'plugins', p));
  return dir;
}

const ended = (id) => (m) =>
  m.kind === 'run' && m.run.id === id && ['done', 'error', 'cancelled'].includes(m.run.status);

/**
 * A WebSocket that resolves waiters on messages; run ends are remembered, so waiting for the end of a run
 * that already ended resolves at once (with the time it ended).
 */
async function live(base) {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}api/ws`);
  const waiters = new Set();
  const ends = new Map();
  socket.on('message', (data) => {
    const m = JSON.parse(String(data));
    const now = performance.now();
    if (m.kind === 'run' && ['done', 'error', 'cancelled'].includes(m.run.status) && !ends.has(m.run.id))
      ends.set(m.run.id, now);
    for (const w of [...waiters]) {
      if (!w.test(m)) continue;
      waiters.delete(w);
      w.resolve(now);
    }
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    when: (test) => new Promise((resolve) => waiters.add({ test, resolve })),
    end: (id) =>
      ends.has(id)
        ? Promise.resolve(ends.get(id))
        : new Promise((resolve) => waiters.add({ test: ended(id), resolve })),
    close: () => socket.close(),
  };
}

/**
 * Submits a run. A 429 QUEUE_FULL (the in-process server keeps at most 32 runs waiting) is backpressure, not a
 * failure: the client tries again 10 ms later, as a well-behaved client would, so the throughput figures are
 * those of a server kept full.
 */
async function post(base, workflow) {
  for (;;) {
    const res = await fetch(`${base}api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow }),
    });
    if (res.status === 202) return (await res.json()).id;
    const text = await res.text();
    if (res.status !== 429 || !text.includes('QUEUE_FULL')) throw new Error(`submit: ${res.status} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `count` runs submitted 16 at a time; seconds from the first submit to the last end. */
async function throughput(base, count, offset) {
  const ws = await live(base);
  const t0 = performance.now();
  const ends = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        const id = await post(base, trivial(offset + i));
        ends.push(ws.end(id));
      }
    }),
  );
  const last = Math.max(...(await Promise.all(ends)));
  ws.close();
  return (last - t0) / 1000;
}

/** Submit → the first node's start (as a client sees it), one run at a time on an idle queue. */
async function latency(base, count, offset) {
  const ws = await live(base);
  const samples = [];
  for (let i = 0; i < count; i++) {
    const first = ws.when((m) => m.kind === 'event' && m.event.type === 'node:start');
    const t0 = performance.now();
    const id = await post(base, trivial(offset + i));
    const started = await first;
    samples.push(started - t0);
    await ws.end(id);
  }
  ws.close();
  return samples.sort((a, b) => a - b);
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function redisStats(redis) {
  const stats = await redis.info('stats');
  const field = (name) => Number(new RegExp(`${name}:(\\d+)`).exec(stats)?.[1] ?? 0);
  return {
    commands: field('total_commands_processed'),
    in: field('total_net_input_bytes'),
    out: field('total_net_output_bytes'),
  };
}

async function usedMemory(redis) {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
}

export async function bench() {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.log('skipped: redis-server is not installed (apt-get install redis-server)');
    return { skipped: 'no redis-server' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-queue-'));
  const procs = [];
  try {
    const redisPort = await freePort();
    const redisDir = join(dir, 'redis');
    mkdirSync(redisDir);
    // As docs/scaling.md advises for production: AOF, fsync every second, never evict.
    const redisArgs = ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', ''];
    redisArgs.push('--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction');
    const redisProc = await start('redis-server', redisArgs, {}, /Ready to accept connections/);
    procs.push(redisProc);
    const queue = `redis://127.0.0.1:${redisPort}`;
    const redis = new Redis(queue);

    const serverDir = folder(dir, 'server', ['queue-test']);
    const workerDir = folder(dir, 'worker', ['queue-test']);
    const embeddedDir = folder(dir, 'embedded', ['queue-test']);
    const port = await freePort();
    const embedded = await start(
      process.execPath,
      [cli, 'serve', '--port', String(port)],
      { cwd: embeddedDir, env },
      /^http:/,
    );
    procs.push(embedded);
    const server = await start(
      process.execPath,
      [cli, 'serve', '--port', '0', '--queue', queue],
      { cwd: serverDir, env },
      /^http:/,
    );
    procs.push(server);
    const embeddedBase = embedded.line;
    const base = server.line;

    const workers = [];
    const addWorker = async () => {
      const name = `b${workers.length + 1}`;
      const args = [
        cli,
        'worker',
        '--queue',
        queue,
        '--server',
        base,
        '--name',
        name,
        '--work-dir',
        join(dir, `work-${name}`),
      ];
      const w = await start(process.execPath, args, { cwd: workerDir, env }, new RegExp(`^${name}-`));
      procs.push(w);
      workers.push(w);
    };

    const step = (what) => process.env.KG_BENCH_VERBOSE && console.error(`${new Date().toISOString()} ${what}`);
    // Warm-up: JIT, connections, caches of both servers.
    await addWorker();
    await throughput(embeddedBase, 20, 0);
    await throughput(base, 20, 0);
    step('warmed up');

    // Latency, interleaved in blocks so that load drifts hit both alike.
    const inProcess = [];
    const queued = [];
    for (let block = 0; block < 4; block++) {
      inProcess.push(...(await latency(embeddedBase, LATENCY_RUNS / 4, 1000 + block * 100)));
      queued.push(...(await latency(base, LATENCY_RUNS / 4, 1000 + block * 100)));
    }
    inProcess.sort((a, b) => a - b);
    queued.sort((a, b) => a - b);
    const lat = {
      inProcess: { p50: quantile(inProcess, 0.5), p99: quantile(inProcess, 0.99) },
      queue: { p50: quantile(queued, 0.5), p99: quantile(queued, 0.99) },
    };

    // Throughput and Redis load per run.
    const rows = [];
    const inProcessSeconds = await throughput(embeddedBase, RUNS, 10_000);
    rows.push({ setup: 'kinegraph serve (in-process, no queue)', workers: 1, runsPerS: RUNS / inProcessSeconds });
    let perRun;
    for (const count of [1, 2, 4]) {
      while (workers.length < count) await addWorker();
      step(`throughput with ${count} workers`);
      const before = await redisStats(redis);
      if (process.env.KG_BENCH_QUEUE_STATS) await redis.config('RESETSTAT');
      const seconds = await throughput(base, RUNS, 20_000 + count * 1000);
      const after = await redisStats(redis);
      if (process.env.KG_BENCH_QUEUE_STATS && count === 1) console.log(await redis.info('commandstats'));
      rows.push({ setup: 'serve --queue + workers', workers: count, runsPerS: RUNS / seconds });
      if (count === 1)
        perRun = {
          commands: (after.commands - before.commands) / RUNS,
          bytesIn: (after.in - before.in) / RUNS,
          bytesOut: (after.out - before.out) / RUNS,
        };
    }
    const one = rows[1].runsPerS;
    for (const row of rows) row.vsOneWorker = row.runsPerS / one;

    step('memory');
    // Memory per queued job: no worker takes them.
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await new Promise((r) => setTimeout(r, 500));
    const memBefore = await usedMemory(redis);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < MEMORY_JOBS) await post(base, trivial(50_000 + next++));
      }),
    );
    const memAfter = await usedMemory(redis);
    const [someRun] = await redis.zrevrange('{kg:kinegraph}:runs', 0, 0);
    const runBytes = Number(await redis.memory('USAGE', `{kg:kinegraph}:run:${someRun}`));
    const ticketBytes = Number(await redis.memory('USAGE', `{kg:kinegraph}:tickets:${someRun}`));
    const memory = { perJob: (memAfter - memBefore) / MEMORY_JOBS, runHash: runBytes, ticketHash: ticketBytes };
    redis.disconnect();

    console.log(`\nThroughput, ${RUNS} trivial runs (text → slow 0 ms → write a file), 16 submits in flight`);
    console.log('| setup | workers | runs/s | vs 1 worker |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const r of rows)
      console.log(`| ${r.setup} | ${r.workers} | ${r.runsPerS.toFixed(1)} | ${r.vsOneWorker.toFixed(2)}× |`);
    console.log(
      `\nSubmit → first node start, as a client sees it (${LATENCY_RUNS} runs each, one at a time, interleaved)`,
    );
    console.log('| setup | median ms | p99 ms |');
    console.log('| --- | ---: | ---: |');
    console.log(`| in-process | ${lat.inProcess.p50.toFixed(1)} | ${lat.inProcess.p99.toFixed(1)} |`);
    console.log(`| queue (1 idle worker) | ${lat.queue.p50.toFixed(1)} | ${lat.queue.p99.toFixed(1)} |`);
    console.log(
      `| added by the queue | ${(lat.queue.p50 - lat.inProcess.p50).toFixed(1)} (${(lat.queue.p50 / lat.inProcess.p50).toFixed(2)}×) | ${(lat.queue.p99 - lat.inProcess.p99).toFixed(1)} |`,
    );
    console.log(
      `\nRedis per run (1 worker): ${perRun.commands.toFixed(0)} commands, ${(perRun.bytesIn / 1024).toFixed(1)} KiB in, ${(perRun.bytesOut / 1024).toFixed(1)} KiB out`,
    );
    console.log(
      `Redis memory per queued job (${MEMORY_JOBS} jobs): ${(memory.perJob / 1024).toFixed(2)} KiB (run record ${memory.runHash} B, ticket ${memory.ticketHash} B, plus indexes)`,
    );
    return { throughput: rows, latencyMs: lat, redisPerRun: perRun, memory, runs: RUNS, latencyRuns: LATENCY_RUNS };
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await bench();
