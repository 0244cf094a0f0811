/** Synthetic test data. */
import type { VideoValue } from '../sdk/port-types.js';
import type { TestValue } from './values.js';

/** A video made in JS, as `source('video', ...)` takes it: float32 data [B, 3, F, H, W] in [-1, 1]. */
export interface TestVideo extends TestValue<VideoValue> {
  readonly tensor: { readonly data: Float32Array; readonly dims: readonly [number, number, number, number, number] };
}

/** The size of a synthetic clip. */
export interface ClipShape {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  /** Default 1. */
  readonly batch?: number;
  /** Default 12. */
  readonly fps?: number;
}

/**
 * A smooth synthetic video [B, 3, F, H, W] in [-1, 1] for `source('video', ...)`: every pixel a different
 * colour, changing over time, each batch item shifted, so a test can tell positions, frames and items apart.
 */
export function gradientVideo(shape: ClipShape): TestVideo {
  const { frames, height, width, batch = 1, fps = 12 } = shape;
  const data = new Float32Array(batch * 3 * frames * height * width);
  let i = 0;
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < 3; c++)
      for (let f = 0; f < frames; f++)
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) {
            const t =
              (x / Math.max(1, width - 1)) * (c === 0 ? 1 : 0.3) +
              (y / Math.max(1, height - 1)) * (c === 1 ? 1 : 0.3) +
              (f / Math.max(1, frames - 1)) * (c === 2 ? 1 : 0.2) +
              b * 0.1;
            data[i++] = Math.sin(t * 2.3 + c) * 0.999;
          }
  return { kind: 'video', tensor: { data, dims: [batch, 3, frames, height, width] }, fps };
}
