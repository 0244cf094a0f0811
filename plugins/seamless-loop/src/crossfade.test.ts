// Seamless Loop through a real Runtime: the ONNX graph against a plain-JS reference, the seam of a
// drifting clip becoming an ordinary step, frames away from the seam left bit-exact, bad overlaps, leaks.
import type { FloatTensor, TestRuntime, TestVideo } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, gradientVideo, maxAbsDiff, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FadeCurve } from './crossfade.node.js';
import { fadeWeights } from './crossfade.node.js';
import seamlessLoop from './index.js';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ plugins: [seamlessLoop] });
});
afterAll(async () => {
  await t?.close();
});

const loop = (clip: TestVideo, params: Record<string, unknown>) => ({
  clip: source('video', clip),
  loop: { type: 'seamless-loop/crossfade', version: 1, params, inputs: { video: { node: 'clip', output: 'video' } } },
  out: capture('loop', 'video'),
});

/** One frame of batch item b, channel-major, as a copy. */
function frame({ data, dims }: FloatTensor, b: number, f: number): Float32Array {
  const [, c = 0, n = 0, h = 0, w = 0] = dims;
  const result = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    result.set(data.subarray(((b * c + ch) * n + f) * h * w, ((b * c + ch) * n + f + 1) * h * w), ch * h * w);
  return result;
}

const meanAbs = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;

/** The loop in plain JS, from the node's documented definition. */
function reference(video: TestVideo, k: number, curve: FadeCurve): Float32Array {
  const [bs, c, n, h, w] = video.tensor.dims;
  const m = n - k;
  const plane = h * w;
  const weights = fadeWeights(k, curve);
  const result = new Float32Array(bs * c * m * plane);
  for (let b = 0; b < bs; b++)
    for (let ch = 0; ch < c; ch++)
      for (let f = 0; f < m; f++)
        for (let p = 0; p < plane; p++) {
          const at = (frameIndex: number) => video.tensor.data[((b * c + ch) * n + frameIndex) * plane + p]!;
          const value = f < k ? at(n - k + f) + weights[f]! * (at(f) - at(n - k + f)) : at(f);
          result[((b * c + ch) * m + f) * plane + p] = value;
        }
  return result;
}

/** A pattern drifting sideways: consecutive frames differ a little, the first and last a lot. */
function driftingVideo(frames: number, height: number, width: number): TestVideo {
  const data = new Float32Array(3 * frames * height * width);
  let i = 0;
  for (let c = 0; c < 3; c++)
    for (let f = 0; f < frames; f++)
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) data[i++] = 0.9 * Math.sin(0.35 * x + 0.2 * y - 0.15 * f + c);
  return { kind: 'video', tensor: { data, dims: [1, 3, frames, height, width] }, fps: 8 };
}

describe('fadeWeights', () => {
  it('starts at 0 and rises to (but not including) 1', () => {
    expect(Array.from(fadeWeights(4, 'linear'))).toEqual([0, 0.25, 0.5, 0.75]);
    const smooth = Array.from(fadeWeights(4, 'smooth'));
    expect(smooth[0]).toBe(0);
    expect(smooth[2]).toBeCloseTo(0.5, 6);
    expect(smooth[1]!).toBeLessThan(0.25); // eases in
  });
});

describe('seamless-loop/crossfade', () => {
  it.each<[number, FadeCurve]>([
    [1, 'linear'],
    [3, 'linear'],
    [3, 'smooth'],
    [5, 'smooth'], // N = 2K: no untouched middle
  ])('matches the JS reference (overlap %i, %s)', async (overlap, curve) => {
    const clip = gradientVideo({ frames: 10, height: 4, width: 5, batch: 2 });
    const run = await t.run(loop(clip, { overlap, curve }));
    expect(run.error).toBeUndefined();
    expect(run.captured('out', 'video').fps).toBe(clip.fps);
    const result = run.tensor('out');
    expect(result.dims).toEqual([2, 3, 10 - overlap, 4, 5]);
    expect(maxAbsDiff(result.data, reference(clip, overlap, curve))).toBeLessThan(1e-6);
  });

  it('turns the loop seam into an ordinary step and leaves frames away from it untouched', async () => {
    const drifting = driftingVideo(16, 12, 12);
    const clip = drifting.tensor;
    const k = 4;
    const run = await t.run(loop(drifting, { overlap: k, curve: 'smooth' }));
    expect(run.error).toBeUndefined();
    const result = run.tensor('out');
    const m = result.dims[2]!;
    const steps = (v: FloatTensor, count: number) =>
      Array.from({ length: count - 1 }, (_, f) => meanAbs(frame(v, 0, f), frame(v, 0, f + 1)));
    const meanStep = (v: FloatTensor, count: number) => steps(v, count).reduce((a, b) => a + b, 0) / (count - 1);

    const jumpBefore = meanAbs(frame(clip, 0, 15), frame(clip, 0, 0));
    const jumpAfter = meanAbs(frame(result, 0, m - 1), frame(result, 0, 0));
    expect(jumpBefore).toBeGreaterThan(2 * meanStep(clip, 16)); // the input does jump
    expect(jumpAfter).toBeLessThan(meanStep(result, m));
    expect(jumpAfter).toBeLessThan(jumpBefore / 2);
    // Frames K … N−K−1 are the input's, bit for bit.
    for (let f = k; f < m; f++) expect(frame(result, 0, f)).toEqual(frame(clip, 0, f));
  });

  it('refuses an overlap of more than half the clip, naming the node and the largest valid value', async () => {
    const run = await t.run(loop(gradientVideo({ frames: 6, height: 2, width: 2 }), { overlap: 4 }));
    expect(run.error).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'loop' });
    expect(run.error!.hint).toContain('from 1 to 3');
  });

  it('leaks no tensors', () => expectNoLeaks(t));
});
