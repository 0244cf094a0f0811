// Seam re-sampling preparation through a real Runtime: the roll, the keep-mask around the seam, the
// known video, bad params, and no tensor leaks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import seamlessLoop from './index.js';
import { planSeam } from './seam-condition.node.js';
import {
  captured,
  capturedConditioning,
  gradientVideo,
  liveTensorsAfterClear,
  runNodes,
  sources,
  testNodes,
} from './test-nodes.js';

let runtime: Runtime;
let out: string;
beforeAll(async () => {
  runtime = await Runtime.create({
    plugins: [await seamlessLoop(), { name: 'test', nodes: testNodes }],
    discover: false,
    threads: 1,
  });
  out = await mkdtemp(join(tmpdir(), 'kg-seam-'));
});
afterAll(async () => {
  await runtime?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

const seam = (key: string, params: Record<string, unknown>) => ({
  src: { type: 'test/source', version: 1, params: { key } },
  seam: {
    type: 'seamless-loop/seam-condition',
    version: 1,
    params,
    inputs: { video: { node: 'src', output: 'video' } },
  },
  cond: {
    type: 'test/capture-conditioning',
    version: 1,
    params: { key: 'cond' },
    inputs: { conditioning: { node: 'seam', output: 'conditioning' } },
  },
  cap: {
    type: 'test/capture',
    version: 1,
    params: { key: 'rolled' },
    inputs: { video: { node: 'seam', output: 'video' } },
  },
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
    const clip = gradientVideo(10, 3, 4, 2);
    sources.set('clip', clip);
    const end = await runNodes(runtime, seam('clip', { regenerate: 4 }), { out });
    expect(end.error).toBeUndefined();
    const plan = planSeam(10, 4);
    const rolled = captured.get('rolled')!;
    const cond = capturedConditioning.get('cond')!;
    expect(rolled.dims).toEqual([2, 3, 10, 3, 4]);
    expect(rolled.fps).toBe(clip.fps);
    expect(cond.mode).toBe('loop-seam');
    expect(cond.videoDims).toEqual([2, 3, 10, 3, 4]);
    expect(cond.maskDims).toEqual([2, 1, 10, 3, 4]);
    const plane = 12;
    for (let b = 0; b < 2; b++)
      for (let f = 0; f < 10; f++) {
        for (let p = 0; p < plane; p++) expect(cond.mask[(b * 10 + f) * plane + p]).toBe(plan.keep[f]);
        for (let c = 0; c < 3; c++) {
          const at = (frame: number) => ((b * 3 + c) * 10 + frame) * plane;
          const source = clip.data.subarray(at(plan.order[f]!), at(plan.order[f]!) + plane);
          expect(rolled.data.subarray(at(f), at(f) + plane)).toEqual(source);
          expect(Array.from(cond.video.subarray(at(f), at(f) + plane))).toEqual(
            Array.from(source, (v) => v * plan.keep[f]!),
          );
        }
      }
  });

  it('refuses to regenerate so much that fewer than 2 frames stay known', async () => {
    sources.set('short', gradientVideo(5, 2, 2));
    const end = await runNodes(runtime, seam('short', { regenerate: 4 }), { out });
    expect(end.error).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'seam' });
    expect(end.error!.hint).toContain('from 1 to 3');
  });

  it('leaks no tensors', async () => {
    expect(await liveTensorsAfterClear(runtime)).toBe(0);
  });
});
