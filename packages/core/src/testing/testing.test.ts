// The testing entry itself: sources and captures of every port type through a real Runtime, what a run
// reports, content-keyed caching of sources, the leak check, and the one-shot runNodes.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineGraph } from '../sdk/graph.js';
import { defineNode } from '../sdk/node.js';
import { definePlugin } from '../sdk/plugin.js';
import type { TensorHandle } from '../tensor/types.js';
import type { TestRuntime } from './index.js';
import {
  capture,
  createTestRuntime,
  expectClose,
  expectNoLeaks,
  gradientVideo,
  maxAbsDiff,
  runNodes,
  source,
} from './index.js';

const scaleGraph = defineGraph('testing-test/scale', (g) => ({
  y: g.mul(g.input('x', 'float32'), g.input('factor', 'float32', [])),
}));

const scale = defineNode({
  type: 'acme/scale',
  version: 1,
  title: 'Scale',
  category: 'test',
  description: 'Multiplies a video by a factor; fails on request.',
  params: Type.Object({ factor: Type.Number({ default: 2 }), fail: Type.Boolean({ default: false }) }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' }, frames: { type: 'text' } },
  async run({ params, inputs, context }) {
    if (params.fail) throw new Error('asked to fail');
    const { y } = await scaleGraph.run(context, { x: inputs.video.tensor, factor: params.factor });
    return { video: { kind: 'video', tensor: y, fps: inputs.video.fps }, frames: String(y.dims[2]) };
  },
});

// A plugin port type, to see that sources and captures exist for plugin types too.
const lutPlugin = definePlugin(() => ({
  name: 'acme-lut',
  portTypes: [{ name: 'acme/lut', description: 'A LUT.', color: '#fff' }],
  nodes: [
    defineNode({
      type: 'acme/invert-lut',
      version: 1,
      title: 'Invert LUT',
      category: 'test',
      description: 'Negates a LUT table.',
      params: Type.Object({}),
      inputs: { lut: { type: 'acme/lut' } },
      outputs: { lut: { type: 'acme/lut' } },
      async run({ inputs, context }) {
        const value = inputs.lut as { size: number; table: TensorHandle };
        const { y } = await scaleGraph.run(context, { x: value.table, factor: -1 });
        return { lut: { size: value.size, table: y } };
      },
    }),
  ],
}));

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ plugins: [lutPlugin], nodes: [scale] });
});
afterAll(async () => {
  await t?.close();
});

const scaled = (clip: ReturnType<typeof gradientVideo>, params: Record<string, unknown> = {}) => ({
  clip: source('video', clip),
  fx: { type: 'acme/scale', version: 1, params, inputs: { video: { node: 'clip', output: 'video' } } },
  out: capture('fx', 'video'),
});

describe('source and capture', () => {
  it('feed a video into a real workflow and read back what reaches them, values and metadata', async () => {
    const clip = gradientVideo({ frames: 3, height: 4, width: 5, batch: 2, fps: 9 });
    const run = await t.run({ ...scaled(clip, { factor: 0.5 }), raw: capture('clip', 'video') });
    expect(run.error).toBeUndefined();
    expect(run.end.type).toBe('run:done');
    const out = run.captured('out', 'video');
    expect(out.kind).toBe('video');
    expect(out.fps).toBe(9);
    expect(out.tensor.dims).toEqual([2, 3, 3, 4, 5]);
    expect(out.tensor.dtype).toBe('float32');
    expectClose(
      run.tensor('out').data,
      clip.tensor.data.map((v) => v * 0.5),
      1e-7,
    );
    expect(maxAbsDiff(run.tensor('raw').data, clip.tensor.data)).toBe(0);
    expect(run.output('fx', 'frames')).toBe('3');
    expect(run.output('fx', 'video')).toEqual({ kind: 'tensor', dims: [2, 3, 3, 4, 5], dtype: 'float32' });
  });

  it('exist for every port type, plugin ones included, and pick parts of values with several tensors', async () => {
    const table = { data: Float32Array.of(0.5, -1, 2), dims: [3] };
    const run = await t.run({
      lut: source('acme/lut', { size: 1, table }),
      inv: { type: 'acme/invert-lut', version: 1, inputs: { lut: { node: 'lut', output: 'lut' } } },
      out: capture('inv', 'lut'),
      text: source('text', 'hello'),
      said: capture('text', 'text'),
      cond: source('conditioning', {
        kind: 'conditioning',
        mode: 'test',
        video: { data: new Float32Array(6), dims: [1, 3, 1, 1, 2] },
        mask: { data: Float32Array.of(1, 0), dims: [1, 1, 1, 1, 2] },
      }),
      seen: capture('cond', 'conditioning'),
    });
    expect(run.error).toBeUndefined();
    expect(Array.from(run.tensor('out').data)).toEqual([-0.5, 1, -2]);
    expect(run.captured('out')).toMatchObject({ size: 1, table: { dims: [3], dtype: 'float32' } });
    expect(run.captured('said', 'text')).toBe('hello');
    expect(run.captured('seen', 'conditioning').mode).toBe('test');
    expect(Array.from(run.tensor('seen', 'mask').data)).toEqual([1, 0]);
    expect(() => run.tensor('seen')).toThrow(/holds 2 tensors \(video, mask\): name the one you want/);
    expect(() => run.tensor('seen', 'known')).toThrow(/no tensor 'known'; its tensors: video, mask/);
    expect(() => run.captured('said', 'video')).toThrow(expect.objectContaining({ code: 'CAPTURE_TYPE' }));
    expect(() => run.captured('text')).toThrow(/'text' is not a capture\(\.\.\.\) node of this run/);
  });

  it('report a failed run: its error, and why a capture recorded nothing', async () => {
    const run = await t.run(scaled(gradientVideo({ frames: 1, height: 1, width: 1 }), { fail: true }));
    expect(run.end.type).toBe('run:error');
    expect(run.error).toMatchObject({ code: 'NODE_FAILED', nodeId: 'fx', message: 'asked to fail' });
    expect(() => run.captured('out')).toThrow(/recorded nothing: the run failed first \(NODE_FAILED in fx: asked/);
  });

  it('reject a workflow that does not validate, and validate() lists its issues', async () => {
    const bad = { ...scaled(gradientVideo({ frames: 1, height: 1, width: 1 }), { factor: 'big' }) };
    await expect(t.run(bad)).rejects.toMatchObject({ code: 'WORKFLOW_INVALID' });
    const result = t.validate(bad);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => [i.code, i.nodeId])).toEqual([['PARAM_INVALID', 'fx']]);
    // A capture of an output that does not exist: the validator names the missing port.
    const missing = t.validate({
      ...scaled(gradientVideo({ frames: 1, height: 1, width: 1 })),
      out: capture('fx', 'nope'),
    });
    expect(missing.ok).toBe(false);
    expect(() => source('no/such-type', 1)).not.toThrow();
    await expect(t.run({ s: source('no/such-type', 1) })).rejects.toMatchObject({ code: 'PORT_TYPE_UNKNOWN' });
  });

  it('key sources by content: an unchanged value lets the nodes after it come from the cache', async () => {
    const clip = gradientVideo({ frames: 2, height: 2, width: 2 });
    await t.run(scaled(clip));
    const again = await t.run(scaled(gradientVideo({ frames: 2, height: 2, width: 2 })));
    expect(again.events.filter((e) => e.type === 'node:cached').map((e) => 'nodeId' in e && e.nodeId)).toEqual([
      'clip',
      'fx',
    ]);
    const changed = gradientVideo({ frames: 2, height: 2, width: 2 });
    changed.tensor.data[0] = 0.25;
    const third = await t.run(scaled(changed));
    expect(third.events.some((e) => e.type === 'node:cached')).toBe(false);
    expect(third.tensor('out').data[0]).toBeCloseTo(0.5, 6);
  });

  it('keep concurrent runs apart', async () => {
    const runs = await Promise.all(
      [1, 2, 3].map((factor) => t.run(scaled(gradientVideo({ frames: 1, height: 2, width: 2 }), { factor }))),
    );
    const firsts = runs.map((run) => run.tensor('out').data[1]!);
    expect(firsts[1]! / firsts[0]!).toBeCloseTo(2, 5);
    expect(firsts[2]! / firsts[0]!).toBeCloseTo(3, 5);
  });

  it('give nodes an inputs folder to read from and an output folder, removed on close', async () => {
    await writeFile(join(t.inputs, 'note.txt'), 'x');
    expect(existsSync(join(t.root, 'inputs', 'note.txt'))).toBe(true);
    expect(t.out).toBe(join(t.root, 'out'));
    let root: string;
    {
      await using scoped = await createTestRuntime();
      root = scoped.root;
      expect(existsSync(join(root, 'out'))).toBe(true);
    }
    expect(existsSync(root)).toBe(false);
  });
});

describe('expectNoLeaks', () => {
  it('passes when every tensor is freed (cached outputs included), and names what is still alive', async () => {
    // Every earlier run's cached outputs are freed by the check itself.
    await expectNoLeaks(t);
    // A node cannot keep a handle beyond its run (its scope frees it); code holding the shared store can.
    const store = await t.runtime.store();
    const kept = await store.upload(Float32Array.of(1, 2), [2]);
    await expect(expectNoLeaks(t)).rejects.toMatchObject({
      code: 'TENSOR_LEAK',
      message: 'After clearing the cache: 1 tensor(s), 8 bytes, still alive.',
    });
    store.release(kept);
    await expectNoLeaks(t.runtime);
    store.release(kept);
    await expect(expectNoLeaks(t)).rejects.toThrow('1 release(s) of a tensor already freed');
  });
});

describe('runNodes', () => {
  it('runs once on a fresh runtime with the given plugins and nodes', async () => {
    const run = await runNodes(
      {
        ...scaled(gradientVideo({ frames: 1, height: 1, width: 2 }), { factor: 3 }),
        lut: source('acme/lut', { size: 1, table: { data: Float32Array.of(1), dims: [1] } }),
        inv: { type: 'acme/invert-lut', version: 1, inputs: { lut: { node: 'lut', output: 'lut' } } },
        table: capture('inv', 'lut'),
      },
      { plugins: [lutPlugin], nodes: [scale] },
    );
    expect(run.tensor('out').dims).toEqual([1, 3, 1, 1, 2]);
    expect(Array.from(run.tensor('table').data)).toEqual([-1]);
  });
});
