// defineGraph / defineGraphFamily on a real inference worker: lazy single build, named feeds as handles or JS
// data, output selection, feed checks that name the problem, uploads freed on every path, and one load per
// store however often (and from however many node contexts) a graph runs.
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../graph/index.js';
import { Runtime } from '../runtime.js';
import type { ModelHandle, TensorStore } from '../tensor/types.js';
import { expectClose } from '../testing/assert.js';
import { createTestStore } from '../testing/store.js';
import type { ManagedTensorStore } from '../worker/client.js';
import { defineGraph, defineGraphFamily } from './graph.js';
import { defineNode } from './node.js';

let store: ManagedTensorStore;
beforeAll(async () => {
  store = await createTestStore();
});
afterAll(async () => {
  await store?.close();
});

let builds = 0;
const affine = defineGraph('test/affine', (g: GraphBuilder) => {
  builds++;
  const x = g.input('x', 'float32', ['N']);
  const scale = g.input('scale', 'float32', []);
  const shift = g.input('shift', 'float32', [3]);
  const scaled = g.mul(x, scale);
  return { y: g.add(scaled, g.reduceMean(shift, [0], false)), scaled };
});

const read = async (tensors: TensorStore, handle: Parameters<TensorStore['read']>[0]) =>
  Array.from((await tensors.read(handle)) as Float32Array);

describe('defineGraph', () => {
  it('builds on first use, once, and keeps the same bytes object', () => {
    expect(builds).toBe(0);
    const first = affine.graph;
    expect(affine.graph).toBe(first);
    expect(builds).toBe(1);
    expect(first.inputs.map((p) => p.name)).toEqual(['x', 'scale', 'shift']);
    expect(first.outputs.map((p) => p.name)).toEqual(['y', 'scaled']);
  });

  it('runs with handles and JS data as feeds, returns named outputs and frees what it uploaded', async () => {
    const before = store.stats().liveTensors;
    const x = await store.upload(Float32Array.of(1, 2, 3), [3]);
    const { y, scaled } = await affine.run({ tensors: store }, { x, scale: 2, shift: [0, 3, 6] });
    expect(await read(store, y)).toEqual([5, 7, 9]);
    expect(await read(store, scaled)).toEqual([2, 4, 6]);
    // x, y and scaled are the caller's; the uploaded scale and shift are gone.
    expect(store.stats().liveTensors).toBe(before + 3);
    for (const h of [x, y, scaled]) store.release(h);

    const only = await affine.run(
      { tensors: store },
      { x: { data: Float32Array.of(1, -1), dims: [2] }, scale: 0.5, shift: Float32Array.of(1, 1, 1) },
      ['y'],
    );
    expect(Object.keys(only)).toEqual(['y']);
    expectClose(await read(store, only.y), [1.5, 0.5]);
    store.release(only.y);
    await store.whenIdle();
    expect(store.stats().liveTensors).toBe(before);
  });

  it('refuses bad feeds with GRAPH_FEED_INVALID, naming the input and listing the graph inputs, before sending anything', async () => {
    const before = store.stats();
    const x = await store.upload(Float32Array.of(1, 2), [2]);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ x, scale: 1 }, /no value for input 'shift'/],
      [{ x, scale: 1, shift: [1, 2, 3], bias: 1 }, /no input 'bias'/],
      [{ x, scale: 1, shift: [1, 2] }, /input 'shift' has dims \[2\], the graph declares \[3\]/],
      [{ x, scale: 1, shift: BigInt64Array.of(1n, 2n, 3n) }, /input 'shift' is float32, the data fed is int64/],
      [{ x, scale: { data: Float32Array.of(1, 2), dims: [1] }, shift: [1, 2, 3] }, /2 values for dims \[1\]/],
    ];
    for (const [feeds, message] of cases) {
      const error = await affine.run({ tensors: store }, feeds as never).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'GRAPH_FEED_INVALID', message: expect.stringMatching(message) });
      expect((error as { hint: string }).hint).toBe('Its inputs: x float32 [N]; scale float32 []; shift float32 [3].');
    }
    const ints = await store.upload(BigInt64Array.of(1n, 2n), [2]);
    await expect(affine.run({ tensors: store }, { x: ints, scale: 1, shift: [1, 2, 3] })).rejects.toThrow(
      /input 'x' is float32, the tensor fed is int64/,
    );
    store.release(ints);
    store.release(x);
    expect(store.stats().bytesFromJs - before.bytesFromJs).toBe(2 * 4 + 2 * 8); // only the test's own uploads
    expect(store.stats().liveTensors).toBe(before.liveTensors);
  });

  it('holds one size per symbolic dim across inputs, and asks for { data, dims } where the rank needs it', async () => {
    const pair = defineGraph('test/pair', (g) => ({
      sum: g.add(g.input('a', 'float32', ['B', 'N']), g.input('b', 'float32', ['B', 'N'])),
      twice: g.mul(g.input('k', 'int64', ['K']), 2),
    }));
    const a = await store.upload(new Float32Array(6), [2, 3]);
    const b = await store.upload(new Float32Array(4), [2, 2]);
    await expect(pair.run({ tensors: store }, { a, b, k: [1] })).rejects.toThrow(
      /dim N is 3 in input 'a' but 2 in input 'b' \(\[2, 2\]\)/,
    );
    await expect(pair.run({ tensors: store }, { a, b: [1, 2, 3, 4, 5, 6], k: [1] })).rejects.toThrow(
      /input 'b' has rank 2: feed it as \{ data, dims \}/,
    );
    await expect(pair.run({ tensors: store }, { a, b: a, k: [1.5] })).rejects.toThrow(/input 'k' is int64: feed whole/);
    const { twice } = await pair.run({ tensors: store }, { a, b: a, k: [1, 2] }, ['twice']);
    expect(Array.from((await store.read(twice)) as BigInt64Array)).toEqual([2n, 4n]);
    for (const h of [a, b, twice]) store.release(h);
  });

  it('frees its uploads when the run is cancelled', async () => {
    const before = store.stats().liveTensors;
    const controller = new AbortController();
    controller.abort();
    const x = await store.upload(Float32Array.of(1), [1]);
    await expect(
      affine.run({ tensors: store, signal: controller.signal }, { x, scale: 1, shift: [0, 0, 0] }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    store.release(x);
    expect(store.stats().liveTensors).toBe(before);
  });

  it('loads once per store: every later run is answered from the store memory, with no round trip', async () => {
    const fresh = await createTestStore();
    try {
      const loads: Promise<ModelHandle>[] = [];
      // A new context per call, as each node run gets its own scoped store over the shared one.
      const context = (): { tensors: TensorStore } => ({
        tensors: {
          device: fresh.device,
          upload: (d, dims, dt) => fresh.upload(d, dims, dt),
          read: (h) => fresh.read(h),
          retain: (h) => fresh.retain(h),
          release: (h) => fresh.release(h),
          run: (m, f, o, s) => fresh.run(m, f, o, s),
          stats: () => fresh.stats(),
          loadModel: (source, options) => {
            const loading = fresh.loadModel(source, options);
            loads.push(loading);
            return loading;
          },
        },
      });
      for (let i = 0; i < 5; i++) {
        const { y } = await affine.run(context(), { x: [i], scale: 1, shift: [0, 0, 0] }, ['y']);
        fresh.release(y);
      }
      const handles = await Promise.all(loads);
      expect(handles).toHaveLength(5);
      // The store hands back the very handle it remembered: a load that went to the worker would be a new object.
      for (const handle of handles) expect(handle).toBe(handles[0]);
      expect(fresh.stats().sessions).toBe(1);
      expect((await fresh.inspectWorker()).sessions).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

describe('defineGraphFamily', () => {
  it('defines each variant once, named by the variant', async () => {
    const made: number[] = [];
    const repeat = defineGraphFamily(
      (times: number) => `test/repeat-${times}`,
      (g, times) => {
        made.push(times);
        const x = g.input('x', 'float32', ['N']);
        return { y: g.concat(new Array<typeof x>(times).fill(x), 0) };
      },
    );
    // Compared by identity by hand: printing a definition would read its lazy `graph` and build it.
    const two = repeat(2);
    expect(repeat(2) === two).toBe(true);
    expect(repeat(3) === repeat(2)).toBe(false);
    expect(repeat(3).name).toBe('test/repeat-3');
    expect(made).toEqual([]); // nothing is built before it is used
    const { y } = await repeat(3).run({ tensors: store }, { x: [1, 2] });
    expect(await read(store, y)).toEqual([1, 2, 1, 2, 1, 2]);
    store.release(y);
    expect(made).toEqual([3]);
  });
});

describe('a graph run from nodes', () => {
  it('loads one session for all the nodes and runs that use it', async () => {
    const double = defineGraph('test/double', (g) => ({ y: g.mul(g.input('x', 'float32', ['N']), 2) }));
    const node = defineNode({
      type: 'test/double-sum',
      version: 1,
      title: 'Double sum',
      category: 'test',
      description: 'Doubles a vector on the device and sums it in JS.',
      params: Type.Object({ values: Type.Array(Type.Number()) }),
      inputs: {},
      outputs: { text: { type: 'text' } },
      cache: false,
      async run({ params, context }) {
        const { y } = await double.run(context, { x: params.values });
        const data = (await context.tensors.read(y)) as Float32Array;
        return { text: String(data.reduce((a, b) => a + b, 0)) };
      },
    });
    const runtime = await Runtime.create({ plugins: [{ name: 'double', nodes: [node] }], threads: 1 });
    try {
      const workflow = {
        format: 'kinegraph/workflow@1',
        nodes: {
          a: { type: 'test/double-sum', version: 1, params: { values: [1, 2] } },
          b: { type: 'test/double-sum', version: 1, params: { values: [3] } },
        },
      };
      for (let i = 0; i < 3; i++) {
        const events = await new Promise<unknown[]>((resolve, reject) => {
          const seen: unknown[] = [];
          runtime
            .run(workflow, { outputFolder: '.', allowedFolders: [] })
            .subscribe({ next: (e) => seen.push(e), error: reject, complete: () => resolve(seen) });
        });
        expect(events.at(-1)).toMatchObject({ type: 'run:done' });
      }
      const shared = (await runtime.store()) as ManagedTensorStore;
      expect(shared.stats().sessions).toBe(1);
      expect(shared.stats().runs).toBe(6);
    } finally {
      await runtime.close();
    }
  });
});
