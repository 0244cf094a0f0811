// uploadClip: the same tensor as framesToTensor, made a slice at a time so that the event loop keeps
// turning and a cancel is heard; the frames it is given, and on a cancel its float data, go back at once.
import type { TensorHandle, TensorStore } from '@kinegraph/core/sdk';
import { describe, expect, it } from 'vitest';
import { squareFrames } from '../test-support/synthetic.js';
import { framesToTensor } from './frames.js';
import { uploadClip } from './tensor-io.js';

const MB = 1024 * 1024;
const arrayBuffers = () => process.memoryUsage().arrayBuffers;

/** A store that keeps what it is given (uploadOwned, as the worker-backed store has). */
function keepingStore() {
  const uploads: { data: Float32Array; dims: readonly number[] }[] = [];
  const store = {
    uploadOwned: async (data: Float32Array, dims: readonly number[]) => {
      uploads.push({ data, dims });
      return { kind: 'tensor', id: uploads.length, dims, dtype: 'float32', location: 'cpu' } as TensorHandle;
    },
  } as unknown as TensorStore;
  return { store, uploads };
}

describe('uploadClip', () => {
  it('uploads what framesToTensor makes, video and image, reporting progress up to 1, and frees the frames', async () => {
    const { store, uploads } = keepingStore();
    const expected = framesToTensor(squareFrames(3, 40, 24), 40, 24);
    const frames = squareFrames(3, 40, 24);
    const seen: number[] = [];
    await uploadClip(store, { width: 40, height: 24, frames }, { progress: (f) => seen.push(f) });
    expect(uploads[0]!.dims).toEqual(expected.dims);
    expect(uploads[0]!.data).toEqual(expected.data);
    expect(seen.at(-1)).toBe(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    // Given up: each frame's memory went back as soon as it was converted.
    expect(frames.map((f) => f.length)).toEqual([0, 0, 0]);

    const image = squareFrames(2, 40, 24);
    await uploadClip(store, { width: 40, height: 24, frames: image }, { asImage: true });
    expect(uploads[1]!.dims).toEqual([1, 3, 24, 40]);
    expect(uploads[1]!.data).toEqual(framesToTensor(squareFrames(1, 40, 24), 40, 24, true).data);
  });

  it('a frame given twice (a still repeated) is read both times, then freed', async () => {
    const { store, uploads } = keepingStore();
    const [still] = squareFrames(1, 16, 16);
    await uploadClip(store, { width: 16, height: 16, frames: [still!, still!] });
    const copy = squareFrames(1, 16, 16)[0]!;
    expect(uploads[0]!.data).toEqual(framesToTensor([copy, copy], 16, 16).data);
    expect(still!.length).toBe(0);
  });

  it('lets the event loop turn between slices of a large clip, where a request or a cancel is heard', async () => {
    const { store } = keepingStore();
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      // 4 frames of 1024² are 4 slices: the loop turns between every two.
      await uploadClip(store, { width: 1024, height: 1024, frames: squareFrames(4, 1024, 1024) });
    } finally {
      clearInterval(ticking);
    }
    expect(turns).toBeGreaterThanOrEqual(3);
  });

  it('stops when cancelled, uploads nothing, and gives back the float data and the frames at once', async () => {
    const { store, uploads } = keepingStore();
    const frames = squareFrames(6, 1024, 1024); // 24 MB of frames, 72 MB of float data
    const before = arrayBuffers();
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const work = uploadClip(
      store,
      { width: 1024, height: 1024, frames },
      { signal: controller.signal, progress: (f) => f > 0.3 && controller.abort(reason) },
    );
    await expect(work).rejects.toBe(reason);
    expect(uploads).toHaveLength(0);
    expect(frames.every((f) => f.length === 0)).toBe(true);
    // No garbage collection was asked for: the frames and the 72 MB were freed, not dropped.
    expect(before - arrayBuffers()).toBeGreaterThanOrEqual(24 * MB - MB);
  });
});
