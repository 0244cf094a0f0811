// Lift/Gamma/Gain through a real Runtime: the ONNX graph against a plain-JS reference, identity at the
// defaults, the v1 → v2 migration, param validation, cancellation-free cleanup (no tensor leaks).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import colorGrade from './index.js';
import type { GradeValues } from './lift-gamma-gain.node.js';
import { LUMA } from './lift-gamma-gain.node.js';
import type { TestVideo } from './test-nodes.js';
import { captured, gradientVideo, liveTensorsAfterClear, runNodes, sources, testNodes } from './test-nodes.js';

let runtime: Runtime;
let out: string;
beforeAll(async () => {
  runtime = await Runtime.create({
    plugins: [await colorGrade(), { name: 'test', nodes: testNodes }],
    discover: false,
    threads: 1,
  });
  out = await mkdtemp(join(tmpdir(), 'kg-color-grade-'));
});
afterAll(async () => {
  await runtime?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

/** The grade in plain JS, written from the formula in the node's docs (not from the graph). */
function reference(video: TestVideo, v: GradeValues): Float32Array {
  const [b, , f, h, w] = video.dims;
  const plane = f * h * w;
  const result = new Float32Array(video.data.length);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < plane; i++) {
      const at = (c: number) => bi * 3 * plane + c * plane + i;
      const x = [0, 1, 2].map((c) => (video.data[at(c)]! + 1) / 2);
      const y = x.map(
        (xc, c) => Math.min(Math.max(v.gain[c]! * (xc + v.lift[c]! * (1 - xc)), 0), 1) ** (1 / v.gamma[c]!),
      );
      const luma = LUMA[0] * y[0]! + LUMA[1] * y[1]! + LUMA[2] * y[2]!;
      for (let c = 0; c < 3; c++) {
        const saturated = luma + v.saturation * (y[c]! - luma);
        const mixed = x[c]! + v.mix * (saturated - x[c]!);
        result[at(c)] = Math.min(Math.max(mixed, 0), 1) * 2 - 1;
      }
    }
  }
  return result;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const grade = (params: Record<string, unknown>, version = 2) => ({
  src: { type: 'test/source', version: 1, params: { key: 'clip' } },
  grade: { type: 'color-grade/lift-gamma-gain', version, params, inputs: { video: { node: 'src', output: 'video' } } },
  cap: {
    type: 'test/capture',
    version: 1,
    params: { key: 'out' },
    inputs: { video: { node: 'grade', output: 'video' } },
  },
});

describe('color-grade/lift-gamma-gain', () => {
  const clip = gradientVideo(4, 6, 5, 2);
  beforeAll(() => {
    sources.set('clip', clip);
  });

  it.each<[string, GradeValues]>([
    [
      'warm lift, cool gain, gamma',
      { lift: [0.1, 0, -0.05], gamma: [1.2, 1, 0.8], gain: [1.1, 1, 0.9], saturation: 1, mix: 1 },
    ],
    [
      'desaturated, half mixed',
      { lift: [0, 0.05, 0], gamma: [1, 1.5, 1], gain: [1, 1, 1.3], saturation: 0.3, mix: 0.5 },
    ],
    [
      'over-saturated, crushed',
      { lift: [-0.2, -0.2, -0.2], gamma: [0.7, 0.7, 0.7], gain: [2, 2, 2], saturation: 1.8, mix: 1 },
    ],
  ])('matches the JS reference: %s', async (_name, values) => {
    const end = await runNodes(
      runtime,
      grade({ ...values, lift: [...values.lift], gamma: [...values.gamma], gain: [...values.gain] }),
      { out },
    );
    expect(end.error).toBeUndefined();
    const result = captured.get('out')!;
    expect(result.dims).toEqual(clip.dims);
    expect(result.fps).toBe(clip.fps);
    expect(maxAbsDiff(result.data, reference(clip, values))).toBeLessThan(1e-5);
  });

  it('is the identity at its defaults, and mix 0 returns the input whatever the grade', async () => {
    expect((await runNodes(runtime, grade({}), { out })).error).toBeUndefined();
    expect(maxAbsDiff(captured.get('out')!.data, clip.data)).toBeLessThan(1e-6);
    expect(
      (await runNodes(runtime, grade({ lift: [0.5, 0.5, 0.5], gain: [3, 0, 1], saturation: 0, mix: 0 }), { out }))
        .error,
    ).toBeUndefined();
    expect(maxAbsDiff(captured.get('out')!.data, clip.data)).toBeLessThan(1e-6);
  });

  it('migrates a v1 node (master values) to v2 (per-channel triples) and grades the same', async () => {
    const v1 = {
      format: 'kinegraph/workflow@1',
      nodes: grade({ lift: 0.1, gamma: 1.4, gain: 0.9, saturation: 0.5 }, 1),
    };
    const result = runtime.validate(v1);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.prepared.migrated).toEqual([{ nodeId: 'grade', from: 1, to: 2 }]);
    expect(result.prepared.nodes.get('grade')!.params).toMatchObject({
      lift: [0.1, 0.1, 0.1],
      gamma: [1.4, 1.4, 1.4],
      gain: [0.9, 0.9, 0.9],
      saturation: 0.5,
      mix: 1,
    });
    expect((await runNodes(runtime, v1.nodes, { out })).error).toBeUndefined();
    const expected = reference(clip, {
      lift: [0.1, 0.1, 0.1],
      gamma: [1.4, 1.4, 1.4],
      gain: [0.9, 0.9, 0.9],
      saturation: 0.5,
      mix: 1,
    });
    expect(maxAbsDiff(captured.get('out')!.data, expected)).toBeLessThan(1e-5);
  });

  it('rejects a triple with the wrong length or a value out of range, before running', () => {
    const result = runtime.validate({
      format: 'kinegraph/workflow@1',
      nodes: grade({ lift: [0.1, 0.2], gamma: [0, 1, 1] }),
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const issues = result.issues.filter((i) => i.nodeId === 'grade');
    expect(issues.map((i) => i.code)).toEqual(['PARAM_INVALID', 'PARAM_INVALID']);
  });

  it('leaks no tensors', async () => {
    expect(await liveTensorsAfterClear(runtime)).toBe(0);
  });
});
