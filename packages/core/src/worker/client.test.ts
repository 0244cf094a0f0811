import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BuiltGraph } from '../graph/builder.js';
import { buildGraph } from '../graph/builder.js';
import { TensorError } from '../tensor/errors.js';
import { createTestStore, expectClose } from '../testing/index.js';
import type { ManagedTensorStore, WorkerTensorStore } from './client.js';

/** y = a + 2·b over any length. */
const axpy = buildGraph('axpy', (g) => {
  const a = g.input('a', 'float32', ['N']);
  const b = g.input('b', 'float32', ['N']);
  g.output('y', g.add(a, g.mul(b, 2)));
});

/** y = x·W + bias with named initializers W [2,2] and bias [2]. */
const affine = buildGraph('affine', (g) => {
  const x = g.input('x', 'float32', ['B', 2]);
  const w = g.constant([1, 0, 0, 1], [2, 2], 'float32', 'W');
  const bias = g.constant([0.5, -0.5], [2], 'float32', 'bias');
  g.output('y', g.add(g.matmul(x, w), bias));
});

const N = 512;

/** `steps` chained N×N MatMuls: 100 steps are ~250 ms of single-threaded work on a fast x64 core. */
function matmulChain(steps: number): BuiltGraph {
  const n = N;
  const w = new Float32Array(n * n);
  for (let i = 0; i < n; i++) w[i * n + ((i + 1) % n)] = 1; // a permutation: values stay bounded
  return buildGraph(`chain${steps}`, (g) => {
    let y = g.input('x', 'float32', [n, n]);
    const W = g.constant(w, [n, n]);
    for (let i = 0; i < steps; i++) y = g.matmul(y, W);
    g.output('y', y);
  });
}
const heavy = matmulChain(100);

let store: ManagedTensorStore;
beforeAll(async () => {
  store = await createTestStore();
});
afterAll(async () => {
  await store?.close();
});

describe('worker round trip', () => {
  test('upload → run → read gives the expected values, with model metadata', async () => {
    const model = await store.loadModel(axpy.bytes);
    expect(model.inputNames).toEqual(['a', 'b']);
    expect(model.inputs[0]).toEqual({ name: 'a', dtype: 'float32', dims: ['N'] });
    const a = await store.upload(new Float32Array([1, 2, 3]), [3]);
    const b = await store.upload(new Float32Array([10, 20, 30]), [3]);
    const { y } = await store.run(model, { a, b });
    expect(y).toMatchObject({ kind: 'tensor', dims: [3], dtype: 'float32', location: 'cpu' });
    expect(Array.from((await store.read(y!)) as Float32Array)).toEqual([21, 42, 63]);
    for (const h of [a, b, y!]) store.release(h);
  });

  test('loading the same graph bytes again reuses the session without asking the worker; changed bytes load afresh', async () => {
    const bytes = new Uint8Array(axpy.bytes);
    const first = await store.loadModel(bytes);
    const again = await store.loadModel(bytes);
    expect(again).toBe(first); // the very handle: no round trip was made for it
    // Bytes changed in place are not the loaded model any more: they are sent again (and here refused).
    bytes.fill(7, 0, 64);
    await expect(store.loadModel(bytes)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    bytes.set(axpy.bytes);
    // After an unload, the same bytes give a live session again.
    const reloaded = await store.loadModel(bytes);
    await store.unloadModel(reloaded);
    const live = await store.loadModel(bytes);
    const a = await store.upload(new Float32Array([1]), [1]);
    const { y } = await store.run(live, { a, b: a });
    expect(Array.from((await store.read(y!)) as Float32Array)).toEqual([3]);
    store.release(a);
    store.release(y!);
  });

  test('int64, bool and uint8 data round-trip unchanged; counters count bytes', async () => {
    const before = store.stats();
    const i64 = await store.upload(BigInt64Array.from([1n, -2n, 3n ** 30n]), [3]);
    const mask = await store.upload(Uint8Array.from([1, 0, 1, 1]), [2, 2], 'bool');
    expect(mask.dtype).toBe('bool');
    expect(Array.from((await store.read(i64)) as BigInt64Array)).toEqual([1n, -2n, 3n ** 30n]);
    expect(Array.from((await store.read(mask)) as Uint8Array)).toEqual([1, 0, 1, 1]);
    const after = store.stats();
    expect(after.bytesFromJs - before.bytesFromJs).toBe(24 + 4);
    expect(after.bytesToJs - before.bytesToJs).toBe(24 + 4);
    store.release(i64);
    store.release(mask);
  });

  test('upload copies the caller data; uploadOwned moves it', async () => {
    const kept = new Float32Array([1, 2]);
    const moved = new Float32Array([3, 4]);
    const h1 = await store.upload(kept, [2]);
    const h2 = await store.uploadOwned(moved, [2]);
    expect(kept.length).toBe(2); // still usable
    expect(moved.length).toBe(0); // detached: its buffer went to the worker
    expect(Array.from((await store.read(h2)) as Float32Array)).toEqual([3, 4]);
    store.release(h1);
    store.release(h2);
  });

  test('bad uploads and feeds are rejected with coded errors', async () => {
    await expect(store.upload(new Float32Array(3), [2, 2])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.upload(new Int32Array(1), [1], 'float32')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const model = await store.loadModel(axpy.bytes);
    const a = await store.upload(new Float32Array(1), [1]);
    await expect(store.run(model, { a })).rejects.toThrow(/missing input\(s\) b/);
    store.release(a);
    await expect(store.run(model, { a, b: a })).rejects.toMatchObject({ code: 'TENSOR_RELEASED' });
  });
});

describe('handle ownership', () => {
  test('retain/release refcounts; liveTensors returns to 0 and double releases are counted', async () => {
    const base = store.stats();
    const model = await store.loadModel(axpy.bytes);
    const a = await store.upload(new Float32Array([1, 2]), [2]);
    store.retain(a);
    const { y } = await store.run(model, { a, b: a });
    expect(store.stats().liveTensors).toBe(base.liveTensors + 2);
    expect(store.stats().liveBytes).toBe(base.liveBytes + 16);
    store.release(a);
    expect(store.stats().liveTensors).toBe(base.liveTensors + 2); // one reference left
    store.release(a);
    store.release(y!);
    expect(store.stats().liveTensors).toBe(0);
    expect(store.stats().liveBytes).toBe(0);
    store.release(a);
    expect(store.stats().doubleReleases).toBe(base.doubleReleases + 1);
    expect(() => store.retain(a)).toThrow(TensorError);
    expect((await store.inspectWorker()).tensors).toBe(0); // the worker freed them too
  });
});

describe('session pool', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kinegraph-pool-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('same model and options → one session; different options → another', async () => {
    const s = await createTestStore();
    try {
      const m1 = await s.loadModel(axpy.bytes);
      const m2 = await s.loadModel(Uint8Array.from(axpy.bytes));
      expect(m2.id).toBe(m1.id);
      expect(s.stats().sessions).toBe(1);
      const m3 = await s.loadModel(axpy.bytes, { graphOptimizationLevel: 'basic' });
      expect(m3.id).not.toBe(m1.id);
      const file = join(dir, 'axpy.onnx');
      writeFileSync(file, axpy.bytes);
      const p1 = await s.loadModel(file);
      const p2 = await s.loadModel(file);
      expect(p2.id).toBe(p1.id);
      expect(s.stats().sessions).toBe(3);
      expect((await s.inspectWorker()).sessions).toBe(3);
      const a = await s.upload(new Float32Array([1]), [1]);
      const queued = s.run(m3, { a, b: a }); // sent before the unload: still runs
      await s.unloadModel(m3);
      const { y } = await queued;
      expect(s.stats().sessions).toBe(2);
      expect((await s.inspectWorker()).sessions).toBe(2);
      await expect(s.run(m3, { a, b: a })).rejects.toMatchObject({ code: 'UNKNOWN_MODEL' });
      s.release(a);
      s.release(y!);
    } finally {
      await s.close();
    }
  });

  test('initializerOverrides change the outputs, pool separately and validate names and shapes', async () => {
    const x = await store.upload(new Float32Array([1, 2]), [1, 2]);
    const plain = await store.loadModel(affine.bytes);
    const swapped = await store.loadModel(affine.bytes, {
      initializerOverrides: { W: new Float32Array([0, 1, 1, 0]), bias: new Float32Array([10, 20]) },
    });
    expect(swapped.id).not.toBe(plain.id);
    const r1 = await store.run(plain, { x });
    const r2 = await store.run(swapped, { x });
    expect(Array.from((await store.read(r1.y!)) as Float32Array)).toEqual([1.5, 1.5]);
    expect(Array.from((await store.read(r2.y!)) as Float32Array)).toEqual([12, 21]);
    await expect(
      store.loadModel(affine.bytes, { initializerOverrides: { Wx: new Float32Array(4), nope: new Float32Array(1) } }),
    ).rejects.toThrow(/Wx, nope.*Model initializers: W, bias/);
    await expect(
      store.loadModel(affine.bytes, { initializerOverrides: { W: new Float32Array(3) } }),
    ).rejects.toMatchObject({
      code: 'INITIALIZER_MISMATCH',
    });
    for (const h of [x, r1.y!, r2.y!]) store.release(h);
  });
});

describe('cancellation, crashes and responsiveness', () => {
  test('a run aborted before it starts rejects with AbortError and leaves nothing behind', async () => {
    const big = await store.loadModel(heavy.bytes);
    const small = await store.loadModel(axpy.bytes);
    const x = await store.upload(new Float32Array(N * N), [N, N]);
    const a = await store.upload(new Float32Array([1]), [1]);
    const busy = store.run(big, { x }); // occupies the worker
    const ctl = new AbortController();
    const queued = store.run(small, { a, b: a }, undefined, ctl.signal);
    ctl.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError', code: 'ABORTED' });
    const pre = new AbortController();
    pre.abort();
    await expect(store.run(small, { a, b: a }, undefined, pre.signal)).rejects.toMatchObject({ name: 'AbortError' });
    const { y } = await busy;
    expect(store.stats().liveTensors).toBe(3);
    expect((await store.inspectWorker()).tensors).toBe(3); // no output of the aborted runs
    for (const h of [x, a, y!]) store.release(h);
    expect(store.stats().liveTensors).toBe(0);
  });

  test('a run aborted mid-way rejects and its outputs are freed when it finishes', async () => {
    const big = await store.loadModel(heavy.bytes);
    const x = await store.upload(new Float32Array(N * N), [N, N]);
    const ctl = new AbortController();
    const running = store.run(big, { x }, undefined, ctl.signal);
    await new Promise((r) => setTimeout(r, 30));
    ctl.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    store.release(x);
    expect(store.stats().liveTensors).toBe(0);
    await store.whenIdle(); // the worker has answered the aborted run (and freed or been told to free its outputs)
    expect((await store.inspectWorker()).tensors).toBe(0);
  });

  test('the main event loop keeps ticking while a heavy model runs in the worker', async () => {
    const big = await store.loadModel(heavy.bytes);
    const x = await store.upload(new Float32Array(N * N).fill(1), [N, N]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const { y } = await store.run(big, { x });
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(elapsed).toBeGreaterThan(100);
    // A blocked main thread would fire ~0 times; a free one about once per millisecond.
    expect(ticks).toBeGreaterThan(elapsed / 5);
    store.release(x);
    store.release(y!);
  });

  test('a worker crash rejects pending requests with WORKER_CRASHED; a new store works', async () => {
    const s = (await createTestStore()) as WorkerTensorStore;
    const big = await s.loadModel(heavy.bytes);
    const small = await s.loadModel(axpy.bytes);
    const x = await s.upload(new Float32Array(N * N), [N, N]);
    const a = await s.upload(new Float32Array([1]), [1]);
    const busy = s.run(big, { x }).catch(() => undefined); // may finish before the crash or not
    const pending = s.run(small, { a, b: a }); // arrives with the crash while the worker is busy
    s.simulateCrash('exit');
    await expect(pending).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await busy;
    expect(s.stats().liveTensors).toBe(0);
    await expect(s.upload(new Float32Array(1), [1])).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    s.release(a); // a no-op after a crash, not a double release
    expect(s.stats().doubleReleases).toBe(0);

    const s2 = (await createTestStore()) as WorkerTensorStore;
    const m = await s2.loadModel(axpy.bytes);
    const b = await s2.upload(new Float32Array([2]), [1]);
    const { y } = await s2.run(m, { a: b, b });
    expectClose((await s2.read(y!)) as Float32Array, [6]);
    const idle = s2.inspectWorker();
    s2.simulateCrash('throw');
    await expect(idle.then(() => s2.inspectWorker())).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await s2.close();
    await s.close();
  });
});
