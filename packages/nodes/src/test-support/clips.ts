/**
 * The moving-square pictures as values for `source(...)` of `@kinegraph/core/testing`: what a decoder would
 * have produced, without going through a file.
 */
import type { ImageValue, VideoValue } from '@kinegraph/core/sdk';
import type { TestValue } from '@kinegraph/core/testing';
import { framesToTensor } from '../media/frames.js';
import { squareFrames } from './synthetic.js';

/** The size of a synthetic clip; every field has a default. */
export interface SquareClip {
  readonly frames?: number;
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  readonly batch?: number;
}

/**
 * The moving square as a video [batch, 3, frames, height, width] in [-1, 1] (default 8 frames of 32×32 at
 * 10 fps). Later batch items are darker copies, so a test can tell them apart.
 */
export function squareVideo(clip: SquareClip = {}): TestValue<VideoValue> {
  const { frames = 8, width = 32, height = 32, fps = 10, batch = 1 } = clip;
  const one = framesToTensor(squareFrames(frames, width, height), width, height);
  const data = new Float32Array(one.data.length * batch);
  for (let b = 0; b < batch; b++)
    data.set(b === 0 ? one.data : one.data.map((v) => (v + 1) * 0.5 - 1), b * one.data.length);
  return { kind: 'video', tensor: { data, dims: [batch, ...one.dims.slice(1)] }, fps };
}

/** Frame 0 of the moving square as an image [1, 3, height, width] (default 32×32). */
export function squareImage(size: { readonly width?: number; readonly height?: number } = {}): TestValue<ImageValue> {
  const { width = 32, height = 32 } = size;
  const { data, dims } = framesToTensor(squareFrames(1, width, height), width, height, true);
  return { kind: 'image', tensor: { data, dims } };
}
