import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildGraph } from '../graph/builder.js';
import { IR_VERSION, onnx } from '../graph/onnx-proto.js';
import { TensorError } from '../tensor/errors.js';
import { createTestStore, expectClose } from '../testing/index.js';
import type { ManagedTensorStore } from '../worker/client.js';
import { appendGraph } from './append-graph.js';

/** The "model": y = 2·x + w, with an initializer `w` and internal values named like the tail's. */
const model = buildGraph('model', (g) => {
  const x = g.input('x', 'float32', ['N']);
  const w = g.constant([1, 1, 1], [3], 'float32', 'w');
  g.output('y', g.add(g.mul(x, 2), w));
});

/** The tail: out = a + 10·b + xin, and its own initializer named `w` too (must not clash). */
const tail = buildGraph('tail', (g) => {
  const a = g.input('a', 'float32');
  const b = g.input('b', 'float32');
  const xin = g.input('xin', 'float32');
  const w = g.constant([10, 10, 10], [3], 'float32', 'w');
  g.output('out', g.add(g.add(a, g.mul(b, w)), xin));
  g.output('double', g.mul(a, 2));
});

let store: ManagedTensorStore;
let dir: string;
beforeAll(async () => {
  store = await createTestStore();
  dir = mkdtempSync(join(tmpdir(), 'kg-append-'));
});
afterAll(() => store.close());

describe('appendGraph: one session runs a model and the op graph after it', () => {
  test('links feed tail inputs from model outputs and inputs; other inputs are new; the tail\u2019s outputs are added', async () => {
    const path = join(dir, 'model.onnx');
    writeFileSync(path, model.bytes);
    const handle = await store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'y', xin: 'x' } } });
    expect([...handle.inputNames].sort()).toEqual(['b', 'x']);
    expect([...handle.outputNames].sort()).toEqual(['double', 'out', 'y']);
    const x = await store.upload(Float32Array.of(1, 2, 3), [3]);
    const b = await store.upload(Float32Array.of(0.5, 0, -1), [3]);
    const out = await store.run(handle, { x, b });
    // y = 2x + 1 = [3, 5, 7]; out = y + 10·b + x = [9, 7, 0]; double = 2y.
    expectClose((await store.read(out.out!)) as Float32Array, [9, 7, 0]);
    expectClose((await store.read(out.double!)) as Float32Array, [6, 10, 14]);
    for (const t of [x, b, out.out!, out.double!]) store.release(t);
  });

  test('the pool keeps the combined session apart from the plain model and from other tails', async () => {
    const path = join(dir, 'pooled.onnx');
    writeFileSync(path, model.bytes);
    const plain = await store.loadModel(path);
    const appended = await store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'y', xin: 'x' } } });
    const again = await store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'y', xin: 'x' } } });
    const relinked = await store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'y', b: 'x' } } });
    expect(appended.id).toBe(again.id);
    expect(new Set([plain.id, appended.id, relinked.id]).size).toBe(3);
    expect(plain.outputNames).toEqual(['y']);
  });

  test('bad links and name clashes are coded errors that list what exists', () => {
    const run =
      (links: Record<string, string>, bytes = tail.bytes) =>
      () =>
        appendGraph(model.bytes, { bytes, links });
    expect(run({ nope: 'y' })).toThrow(/"nope" is not an input of the appended graph \(inputs: a, b, xin\)/);
    expect(run({ a: 'z' })).toThrow(/no input or output "z" \(inputs: x; outputs: y\)/);
    // Unlinked, the tail's input "xin" is fine, but one named like a model value is not.
    const clash = buildGraph('clash', (g) => g.output('o', g.add(g.input('x', 'float32'), g.input('a', 'float32'))));
    expect(run({ a: 'y' }, clash.bytes)).toThrow(/"x" of the appended graph is already a value of the model/);
    try {
      run({ a: 'y' }, clash.bytes)();
    } catch (error) {
      expect(error).toBeInstanceOf(TensorError);
      expect((error as TensorError).code).toBe('GRAPH_APPEND_FAILED');
    }
  });

  test('graphs of different opsets are refused (ops may change meaning between opsets)', () => {
    const decoded = onnx.ModelProto.decode(tail.bytes);
    decoded.opsetImport = [{ domain: '', version: 18 }];
    decoded.irVersion = IR_VERSION;
    const opset18 = new Uint8Array(onnx.ModelProto.encode(decoded).finish());
    expect(() => appendGraph(model.bytes, { bytes: opset18, links: { a: 'y' } })).toThrow(
      /opset 17 and the appended graph opset 18/,
    );
  });

  test('a model file that is not ONNX (truncated) is the model’s fault: MODEL_LOAD_FAILED', async () => {
    const path = join(dir, 'truncated.onnx');
    writeFileSync(path, model.bytes.subarray(0, model.bytes.length - 7));
    expect(() =>
      appendGraph(model.bytes.subarray(0, model.bytes.length - 7), { bytes: tail.bytes, links: { a: 'y' } }),
    ).toThrow(/cannot be read as ONNX/);
    await expect(
      store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'y', xin: 'x' } } }),
    ).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
  });

  test('a load with a bad tail fails with the code and leaves the pool usable', async () => {
    const path = join(dir, 'bad.onnx');
    writeFileSync(path, model.bytes);
    await expect(
      store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'missing' } } }),
    ).rejects.toMatchObject({ code: 'GRAPH_APPEND_FAILED' });
    const ok = await store.loadModel(path, { appendGraph: { bytes: tail.bytes, links: { a: 'y', xin: 'x' } } });
    expect(ok.outputNames.length).toBe(3);
  });
});
