import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TensorHandle } from '../tensor/types.js';
import { createTestStore, expectClose } from '../testing/index.js';
import type { ManagedTensorStore } from '../worker/client.js';
import { buildGraph } from './builder.js';

// Every builder op, run by ONNX Runtime and checked against plain JS: proves the emitted nodes are
// valid opset-17 ONNX (input-vs-attribute forms, optional inputs), not just well-formed protobuf.

let store: ManagedTensorStore;
beforeAll(async () => {
  store = await createTestStore();
});
afterAll(async () => {
  await store?.close();
});

const x = [-2, -0.5, 0.25, 1, 4, 9]; // as [2, 3]

async function runAll(bytes: Uint8Array, feeds: Record<string, TensorHandle>) {
  const model = await store.loadModel(bytes);
  const out = await store.run(model, feeds);
  const values: Record<string, { dims: readonly number[]; data: number[] }> = {};
  for (const [name, h] of Object.entries(out)) {
    const data = await store.read(h);
    values[name] = { dims: h.dims, data: Array.from(data as ArrayLike<number | bigint>, Number) };
    store.release(h);
  }
  return values;
}

describe('builder ops under ONNX Runtime', () => {
  test('elementwise and comparison ops', async () => {
    const g = buildGraph('elementwise', (g) => {
      const v = g.input('x', 'float32', [2, 3]);
      g.output('neg', g.neg(v));
      g.output('sqrt', g.sqrt(g.abs(v)));
      g.output('exp', g.exp(v));
      g.output('clip', g.clip(v, -1, 2));
      g.output('clipLo', g.clip(v, 0));
      g.output('pow', g.pow(v, 2));
      g.output('div', g.div(1, g.add(g.abs(v), 1)));
      g.output('lessI', g.cast(g.less(v, 0.5), 'int32'));
      g.output('eq', g.cast(g.equal(v, 1), 'uint8'));
      g.output('sel', g.where(g.greater(v, 0), v, g.sub(v, 100)));
    });
    const h = await store.upload(Float32Array.from(x), [2, 3]);
    const r = await runAll(g.bytes, { x: h });
    store.release(h);
    expectClose(
      r.neg!.data,
      x.map((v) => -v),
    );
    expectClose(
      r.sqrt!.data,
      x.map((v) => Math.sqrt(Math.abs(v))),
    );
    expectClose(r.exp!.data, x.map(Math.exp), 1e-3);
    expectClose(
      r.clip!.data,
      x.map((v) => Math.min(Math.max(v, -1), 2)),
    );
    expectClose(
      r.clipLo!.data,
      x.map((v) => Math.max(v, 0)),
    );
    expectClose(
      r.pow!.data,
      x.map((v) => v * v),
    );
    expectClose(
      r.div!.data,
      x.map((v) => 1 / (Math.abs(v) + 1)),
    );
    expect(r.lessI!.data).toEqual(x.map((v) => (v < 0.5 ? 1 : 0)));
    expect(r.eq!.data).toEqual(x.map((v) => (v === 1 ? 1 : 0)));
    expectClose(
      r.sel!.data,
      x.map((v) => (v > 0 ? v : v - 100)),
    );
  });

  test('shape ops, reductions, pad, gather, matmul and split', async () => {
    const g = buildGraph('shapes', (g) => {
      const v = g.input('x', 'float32', ['B', 3]);
      g.output('reshape', g.reshape(v, [3, -1]));
      g.output('transpose', g.transpose(v, [1, 0]));
      const u = g.unsqueeze(v, [0]);
      g.output('unsqueeze', u);
      g.output('squeeze', g.squeeze(u, [0]));
      g.output('expand', g.expand(g.slice(v, [0], [1]), [3, 3]));
      g.output('mean', g.reduceMean(v, [1]));
      g.output('pad', g.pad(v, [0, 1, 0, 1], { value: 7 }));
      g.output('gather', g.gather(v, [2, 0], 1));
      g.output('shape', g.shape(v));
      g.output('matmul', g.matmul(v, g.constant([1, 0, 0, 1, 1, 1], [3, 2])));
      const [p, q] = g.split(v, 1, [1, 2]);
      g.output('p', p!);
      g.output('q', q!);
      g.output('step', g.slice(v, [2], [-4], [1], [-2])); // reversed, every other
    });
    const h = await store.upload(Float32Array.from(x), [2, 3]);
    const r = await runAll(g.bytes, { x: h });
    store.release(h);
    expect(r.reshape).toEqual({ dims: [3, 2], data: x });
    expect(r.transpose).toEqual({ dims: [3, 2], data: [-2, 1, -0.5, 4, 0.25, 9] });
    expect(r.unsqueeze!.dims).toEqual([1, 2, 3]);
    expect(r.squeeze).toEqual({ dims: [2, 3], data: x });
    expect(r.expand).toEqual({ dims: [3, 3], data: [-2, -0.5, 0.25, -2, -0.5, 0.25, -2, -0.5, 0.25] });
    expectClose(r.mean!.data, [(-2 - 0.5 + 0.25) / 3, (1 + 4 + 9) / 3]);
    expect(r.mean!.dims).toEqual([2, 1]);
    expect(r.pad).toEqual({ dims: [2, 5], data: [7, -2, -0.5, 0.25, 7, 7, 1, 4, 9, 7] });
    expect(r.gather).toEqual({ dims: [2, 2], data: [0.25, -2, 9, 1] });
    expect(r.shape!.data).toEqual([2, 3]);
    expect(r.matmul).toEqual({ dims: [2, 2], data: [-2 + 0.25, -0.5 + 0.25, 1 + 9, 4 + 9] });
    expect(r.p).toEqual({ dims: [2, 1], data: [-2, 1] });
    expect(r.q).toEqual({ dims: [2, 2], data: [-0.5, 0.25, 4, 9] });
    expect(r.step).toEqual({ dims: [2, 2], data: [0.25, -2, 9, 1] });
    expect(store.stats().liveTensors).toBe(0);
  });
});
