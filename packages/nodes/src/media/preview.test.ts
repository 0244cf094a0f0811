// makePreview: slices and downsizes on the device so only the small picture reaches JS, and frees
// everything it made (samplers call it every step).

import type { ManagedTensorStore } from '@kinegraph/core';
import type { TensorHandle } from '@kinegraph/core/sdk';
import { TensorOps } from '@kinegraph/core/sdk';
import { createTestStore } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { squareFrames } from '../test-support/synthetic.js';
import { framesToTensor } from './frames.js';
import { decodeGif } from './gif.js';
import { decodePng } from './png.js';
import { makePreview } from './preview.js';
import { uploadOwned } from './tensor-io.js';

let store: ManagedTensorStore;
let video: TensorHandle;
beforeAll(async () => {
  store = await createTestStore();
  // Batch of 2 videos, 6 frames of 64×32.
  const one = framesToTensor(squareFrames(6, 64, 32), 64, 32);
  const data = new Float32Array(one.data.length * 2);
  data.set(one.data);
  data.set(one.data, one.data.length);
  video = await uploadOwned(store, data, [2, 3, 6, 32, 64]);
});
afterAll(async () => {
  await store?.close();
});

describe('makePreview', () => {
  it('PNG: reads only the first frame of the first item at preview size', async () => {
    const context = { tensors: store, ops: new TensorOps(store) };
    const before = store.stats();
    const preview = await makePreview(context, video, { format: 'png', maxSize: 16 });
    const after = store.stats();
    expect(preview).toMatchObject({ mime: 'image/png', width: 16, height: 8 });
    expect(after.bytesToJs - before.bytesToJs).toBe(3 * 8 * 16 * 4);
    expect(after.liveTensors).toBe(before.liveTensors);
    const png = decodePng(preview.data, 'preview');
    expect([png.width, png.height]).toEqual([16, 8]);
  });

  it('GIF: every frame, animated at the given fps; small inputs are not upscaled', async () => {
    const context = { tensors: store, ops: new TensorOps(store) };
    const preview = await makePreview(context, video, { maxSize: 256, fps: 5 });
    expect(preview).toMatchObject({ mime: 'image/gif', width: 64, height: 32 });
    const gif = decodeGif(preview.data, 'preview');
    expect([gif.frames.length, gif.fps]).toEqual([6, 5]);
  });

  it('rejects tensors that are not pictures', async () => {
    const context = { tensors: store, ops: new TensorOps(store) };
    const bad = await store.upload(new Float32Array(4), [1, 4]);
    await expect(makePreview(context, bad)).rejects.toThrow(/expected/);
    store.release(bad);
  });
});
