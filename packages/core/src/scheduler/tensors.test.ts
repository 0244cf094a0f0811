// The scheduler with real tensors in the inference worker: reference counts, peak memory, cleanup.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime } from '../runtime.js';
import { tensorPlugin } from '../test-support/tensor-plugin.js';
import { expectNoLeaks } from '../testing/index.js';
import type { ManagedTensorStore } from '../worker/client.js';
import type { RunEvent } from './events.js';

const SIZE = 250_000; // 1 MB per tensor
const out = await mkdtemp(join(tmpdir(), 'kg-tensors-'));
const runtimes: Runtime[] = [];

async function runtime(cacheBudgetBytes: number) {
  const rt = await Runtime.create({ plugins: [await tensorPlugin()], cacheBudgetBytes });
  runtimes.push(rt);
  return { rt, store: (await rt.store()) as ManagedTensorStore };
}

afterAll(async () => {
  for (const rt of runtimes) await rt.close();
});

function chain(length: number, extra: Record<string, unknown> = {}) {
  const nodes: Record<string, unknown> = { n0: { type: 'test/noise', version: 1, params: { size: SIZE, seed: 7 } } };
  for (let i = 1; i <= length; i++)
    nodes[`n${i}`] = {
      type: 'test/scale',
      version: 1,
      params: { factor: 1 },
      inputs: { latent: { node: `n${i - 1}`, output: 'latent' } },
    };
  nodes.mean = { type: 'test/mean', version: 1, inputs: { latent: { node: `n${length}`, output: 'latent' } } };
  return { format: 'kinegraph/workflow@1', nodes: { ...nodes, ...extra } };
}

const run = (rt: Runtime, doc: unknown, signal?: AbortSignal) =>
  lastValueFrom(
    rt
      .run(doc, { outputFolder: out, allowedFolders: [out], concurrency: 1, ...(signal ? { signal } : {}) })
      .pipe(toArray()),
  );

describe('scheduler with tensors', () => {
  it('frees every tensor when its last consumer has run: peak stays near the working set', async () => {
    const { rt, store } = await runtime(0);
    store.resetPeak();
    const events = await run(rt, chain(8));
    expect(events.at(-1)!.type).toBe('run:done');
    await expectNoLeaks(rt);
    expect(store.stats().doubleReleases).toBe(0);
    // Each scale node holds its input, an intermediate and its output: 3 MB, never the 9 MB of all outputs.
    expect(store.stats().peakBytes).toBeLessThanOrEqual(3 * SIZE * 4 + 1024); // + scalar params
    expect((await store.inspectWorker()).tensors).toBe(0);
  });

  it('keeps cached outputs alive for re-runs and frees them when evicted', async () => {
    const { rt, store } = await runtime(64 * 1024 * 1024);
    await run(rt, chain(3));
    await store.whenIdle();
    expect(store.stats().liveTensors).toBe(4); // noise + 3 scales, held by the cache
    const second = await run(rt, chain(3));
    expect(second.filter((e) => e.type === 'node:cached')).toHaveLength(5);
    await expectNoLeaks(rt); // clears the cache first
  });

  it('passes a borrowed input through as an output without freeing it twice', async () => {
    const { rt, store } = await runtime(0);
    const doc = chain(1, {
      p: { type: 'test/pass', version: 1, inputs: { latent: { node: 'n1', output: 'latent' } } },
      mean2: { type: 'test/mean', version: 1, inputs: { latent: { node: 'p', output: 'latent' } } },
    });
    const events = await run(rt, doc);
    expect(JSON.stringify(events.at(-1))).toContain('run:done');
    const means = events.flatMap((e) =>
      e.type === 'node:done' && e.nodeId.startsWith('mean') ? [e.outputs.text] : [],
    );
    expect(means[0]).toEqual(means[1]);
    await expectNoLeaks(rt);
    expect(store.stats().doubleReleases).toBe(0);
  });

  it('leaves no tensor behind when a node fails or the run is cancelled', async () => {
    const { rt } = await runtime(0);
    const failing = chain(4);
    (failing.nodes as Record<string, { params: Record<string, unknown> }>).n3!.params.failAfter = true;
    const failed = await run(rt, failing);
    const end = failed.at(-1) as Extract<RunEvent, { type: 'run:error' }>;
    expect(end.type).toBe('run:error');
    expect(end.nodeId).toBe('n3');
    await expectNoLeaks(rt);

    const slow = chain(4);
    for (const id of ['n1', 'n2', 'n3', 'n4'])
      (slow.nodes as Record<string, { params: Record<string, unknown> }>)[id]!.params.waitMs = 40;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 70);
    const cancelled = await run(rt, slow, controller.signal);
    expect(cancelled.at(-1)!.type).toBe('run:cancelled');
    await new Promise((r) => setTimeout(r, 100)); // let the cancelled node's late ops settle
    await expectNoLeaks(rt);
  });

  it('moves no tensor bytes into JS between tensor nodes; only the reading node does', async () => {
    const { rt, store } = await runtime(0);
    const before = store.stats().bytesToJs;
    await run(rt, chain(3));
    expect(store.stats().bytesToJs - before).toBe(SIZE * 4); // the mean node's one read
  });
});

describe('each node\u2019s memory, as node:done reports it', () => {
  it('is the most it held at once of the tensors it made, plus what it was reading into JS', async () => {
    const { rt } = await runtime(0);
    const events = await run(
      rt,
      chain(1, { pass: { type: 'test/pass', version: 1, inputs: { latent: { node: 'n1', output: 'latent' } } } }),
    );
    expect(events.at(-1)!.type).toBe('run:done');
    const peak = (id: string) => {
      const done = events.find((e) => e.type === 'node:done' && e.nodeId === id);
      return done?.type === 'node:done' ? done.memory : undefined;
    };
    const MB = SIZE * 4;
    // The noise (and its op graph's tiny feeds); the scale's forgotten intermediate and its output, held at
    // once; a borrowed input passed through is nobody's allocation; the mean holds nothing but the data it
    // reads. None of these test nodes declares its memory.
    expect(peak('n0')!.peakBytes).toBeGreaterThanOrEqual(MB);
    expect(peak('n0')!.peakBytes).toBeLessThan(MB + 1024);
    expect(peak('n1')!.peakBytes).toBeGreaterThanOrEqual(2 * MB);
    expect(peak('n1')!.peakBytes).toBeLessThan(2 * MB + 1024);
    expect(peak('pass')).toEqual({ peakBytes: 0 });
    expect(peak('mean')).toEqual({ peakBytes: MB });
  });
});

describe('Runtime.create({ startWorker })', () => {
  it('starts the worker during create(); a start that fails is reported by store() and retried', async () => {
    const started = await Runtime.create({ plugins: [await tensorPlugin()], startWorker: true, cacheBudgetBytes: 0 });
    runtimes.push(started);
    const store = (await started.store()) as ManagedTensorStore;
    expect(await started.store()).toBe(store);
    expect((await run(started, chain(2))).at(-1)?.type).toBe('run:done');

    // Without a WebGPU adapter (as in CI) the early start fails: create() still succeeds, and each store()
    // call tries again and reports the device error; with an adapter, the store is on webgpu.
    const gpu = await Runtime.create({ plugins: [await tensorPlugin()], startWorker: true, device: 'webgpu' });
    runtimes.push(gpu);
    const first = await gpu.store().then(
      (s) => s.device,
      (e: { code?: string }) => e.code,
    );
    if (first === 'DEVICE_UNAVAILABLE') {
      await expect(gpu.store()).rejects.toMatchObject({ code: 'DEVICE_UNAVAILABLE' });
      const events = await run(gpu, chain(1));
      expect(events.at(-1)).toMatchObject({ type: 'run:error' });
    } else expect(first).toBe('webgpu');
  });
});
