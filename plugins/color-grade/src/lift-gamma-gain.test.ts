// Lift/Gamma/Gain through a real Runtime: the ONNX graph against a plain-JS reference, identity at the
// defaults, the v1 → v2 migration, param validation, and no tensor leaks.
import type { TestRuntime, TestVideo } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, gradientVideo, maxAbsDiff, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import colorGrade from './index.js';
import { LUMA } from './lift-gamma-gain.node.js';

/** The grade's values, per channel R, G, B. */
interface GradeValues {
  readonly lift: readonly [number, number, number];
  readonly gamma: readonly [number, number, number];
  readonly gain: readonly [number, number, number];
  readonly saturation: number;
  readonly mix: number;
}

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ plugins: [colorGrade] });
});
afterAll(async () => {
  await t?.close();
});

/** The grade in plain JS, written from the formula in the node's docs (not from the graph). */
function reference(video: TestVideo, v: GradeValues): Float32Array {
  const [b, , f, h, w] = video.tensor.dims;
  const data = video.tensor.data;
  const plane = f * h * w;
  const result = new Float32Array(data.length);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < plane; i++) {
      const at = (c: number) => bi * 3 * plane + c * plane + i;
      const x = [0, 1, 2].map((c) => (data[at(c)]! + 1) / 2);
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

const clip = gradientVideo({ frames: 4, height: 6, width: 5, batch: 2 });

const grade = (params: Record<string, unknown>, version = 2) => ({
  clip: source('video', clip),
  grade: { type: 'color-grade/lift-gamma-gain', version, params, inputs: { video: { node: 'clip', output: 'video' } } },
  out: capture('grade', 'video'),
});

describe('color-grade/lift-gamma-gain', () => {
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
    const run = await t.run(grade({ ...values }));
    expect(run.error).toBeUndefined();
    const result = run.captured('out', 'video');
    expect(result.tensor.dims).toEqual(clip.tensor.dims);
    expect(result.fps).toBe(clip.fps);
    expect(maxAbsDiff(run.tensor('out').data, reference(clip, values))).toBeLessThan(1e-5);
  });

  it('is the identity at its defaults, and mix 0 returns the input whatever the grade', async () => {
    const defaults = await t.run(grade({}));
    expect(maxAbsDiff(defaults.tensor('out').data, clip.tensor.data)).toBeLessThan(1e-6);
    const unmixed = await t.run(grade({ lift: [0.5, 0.5, 0.5], gain: [3, 0, 1], saturation: 0, mix: 0 }));
    expect(maxAbsDiff(unmixed.tensor('out').data, clip.tensor.data)).toBeLessThan(1e-6);
  });

  it('migrates a v1 node (master values) to v2 (per-channel triples) and grades the same', async () => {
    const v1 = grade({ lift: 0.1, gamma: 1.4, gain: 0.9, saturation: 0.5 }, 1);
    const result = t.validate(v1);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.prepared.migrated).toEqual([{ nodeId: 'grade', from: 1, to: 2 }]);
    expect(result.prepared.nodes.get('grade')!.params).toMatchObject({
      lift: [0.1, 0.1, 0.1],
      gamma: [1.4, 1.4, 1.4],
      gain: [0.9, 0.9, 0.9],
      saturation: 0.5,
      mix: 1,
    });
    const run = await t.run(v1);
    expect(run.error).toBeUndefined();
    const expected = reference(clip, {
      lift: [0.1, 0.1, 0.1],
      gamma: [1.4, 1.4, 1.4],
      gain: [0.9, 0.9, 0.9],
      saturation: 0.5,
      mix: 1,
    });
    expect(maxAbsDiff(run.tensor('out').data, expected)).toBeLessThan(1e-5);
  });

  it('rejects a triple with the wrong length or a value out of range, before running', () => {
    const result = t.validate(grade({ lift: [0.1, 0.2], gamma: [0, 1, 1] }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const issues = result.issues.filter((i) => i.nodeId === 'grade');
    expect(issues.map((i) => i.code)).toEqual(['PARAM_INVALID', 'PARAM_INVALID']);
  });

  it('leaks no tensors', () => expectNoLeaks(t));
});
