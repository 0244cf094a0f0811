// Seam re-sampling preparation through a real Runtime: the roll, the keep-mask around the seam, the
// known video, bad params, and no tensor leaks.
import type { TestRuntime, TestVideo } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, gradientVideo, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import seamlessLoop from './index.js';
import { planSeam } from './seam-condition.node.js';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ plugins: [seamlessLoop] });
});
afterAll(async () => {
  await t?.close();
});

const seam = (clip: TestVideo, params: Record<string, unknown>) => ({
  clip: source('video', clip),
  seam: {
    type: 'seamless-loop/seam-condition',
    version: 1,
    params,
    inputs: { video: { node: 'clip', output: 'video' } },
  },
  cond: capture('seam', 'conditioning'),
  rolled: capture('seam', 'video'),
});

describe('planSeam', () => {
  it('rolls by half and marks the frames straddling the old seam', () => {
    expect(planSeam(10, 4)).toEqual({
      order: [5, 6, 7, 8, 9, 0, 1, 2, 3, 4],
      keep: [1, 1, 1, 0, 0, 0, 0, 1, 1, 1],
      seamAt: 5,
    });
    // Odd lengths and odd counts: the old last frame (9 of 0..8 → index 4) and old first frame stay inside.
    const odd = planSeam(9, 3);
    expect(odd.order).toEqual([4, 5, 6, 7, 8, 0, 1, 2, 3]);
    expect(odd.keep).toEqual([1, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(odd.order[odd.seamAt]).toBe(0);
  });
});

describe('seamless-loop/seam-condition', () => {
  it('outputs the rolled clip, and conditioning known everywhere but around the seam', async () => {
    const clip = gradientVideo({ frames: 10, height: 3, width: 4, batch: 2 });
    const run = await t.run(seam(clip, { regenerate: 4 }));
    expect(run.error).toBeUndefined();
    const plan = planSeam(10, 4);
    const rolled = run.tensor('rolled');
    expect(rolled.dims).toEqual([2, 3, 10, 3, 4]);
    expect(run.captured('rolled', 'video').fps).toBe(clip.fps);
    expect(run.captured('cond', 'conditioning').mode).toBe('loop-seam');
    const cond = { video: run.tensor('cond', 'video'), mask: run.tensor('cond', 'mask') };
    expect(cond.video.dims).toEqual([2, 3, 10, 3, 4]);
    expect(cond.mask.dims).toEqual([2, 1, 10, 3, 4]);
    const plane = 12;
    for (let b = 0; b < 2; b++)
      for (let f = 0; f < 10; f++) {
        for (let p = 0; p < plane; p++) expect(cond.mask.data[(b * 10 + f) * plane + p]).toBe(plan.keep[f]);
        for (let c = 0; c < 3; c++) {
          const at = (frame: number) => ((b * 3 + c) * 10 + frame) * plane;
          const original = clip.tensor.data.subarray(at(plan.order[f]!), at(plan.order[f]!) + plane);
          expect(rolled.data.subarray(at(f), at(f) + plane)).toEqual(original);
          expect(Array.from(cond.video.data.subarray(at(f), at(f) + plane))).toEqual(
            Array.from(original, (v) => v * plan.keep[f]!),
          );
        }
      }
  });

  it('refuses to regenerate so much that fewer than 2 frames stay known', async () => {
    const run = await t.run(seam(gradientVideo({ frames: 5, height: 2, width: 2 }), { regenerate: 4 }));
    expect(run.error).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'seam' });
    expect(run.error!.hint).toContain('from 1 to 3');
  });

  it('leaks no tensors', () => expectNoLeaks(t));
});
