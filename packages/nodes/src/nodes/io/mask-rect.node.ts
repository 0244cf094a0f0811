import { defineNode, Type } from '@kinegraph/core/sdk';
import { uploadOwned } from '../../media/tensor-io.js';
import { resizeOwned } from './resize.js';

/**
 * **Mask Rect** (`kinegraph/mask-rect`): a rectangular `mask` [B, 1, F, H, W], 1 inside. Use it for quick
 * inpainting regions or to pick the moving part of a cinemagraph without drawing a mask.
 *
 * `x`, `y`, `width`, `height` are fractions of the frame (0–1, origin top-left); a pixel is inside when
 * its centre is. `feather` (pixels) ramps the values linearly from 0 at the edge to 1 that far inside.
 * With a `video` connected, the mask takes its batch, frames and size; else `frames`, `maskWidth` and
 * `maskHeight` set them. One plane is built in JS and expanded to all frames on the device.
 */
export const maskRectNode = defineNode({
  type: 'kinegraph/mask-rect',
  version: 1,
  title: 'Mask Rect',
  category: 'io/mask',
  description:
    'A rectangular mask in relative coordinates, with feathering and invert; sized like a connected video or by params.',
  params: Type.Object({
    x: Type.Number({ default: 0.25, minimum: 0, maximum: 1, description: 'Left edge, as a fraction of the width.' }),
    y: Type.Number({ default: 0.25, minimum: 0, maximum: 1, description: 'Top edge, as a fraction of the height.' }),
    width: Type.Number({
      default: 0.5,
      minimum: 0,
      maximum: 1,
      description: 'Width, as a fraction of the frame width.',
    }),
    height: Type.Number({
      default: 0.5,
      minimum: 0,
      maximum: 1,
      description: 'Height, as a fraction of the frame height.',
    }),
    feather: Type.Number({
      default: 0,
      minimum: 0,
      maximum: 1024,
      description: 'Soft edge width in pixels, inside the rectangle.',
    }),
    invert: Type.Boolean({ default: false, description: 'Mark everything outside the rectangle instead.' }),
    frames: Type.Integer({
      default: 16,
      minimum: 1,
      maximum: 10000,
      description: 'Frames when no video is connected.',
    }),
    maskWidth: Type.Integer({
      default: 128,
      minimum: 1,
      maximum: 8192,
      description: 'Width in pixels when no video is connected.',
    }),
    maskHeight: Type.Integer({
      default: 128,
      minimum: 1,
      maximum: 8192,
      description: 'Height in pixels when no video is connected.',
    }),
  }),
  inputs: {
    video: { type: 'video', optional: true, description: 'Size the mask like this video (only its shape is used).' },
  },
  outputs: { mask: { type: 'mask' } },
  // The mask, the same again while ONNX Runtime's expanded output is copied out of the session, and the
  // plane built in JS and uploaded. Sized like the video when one is connected, else by params.
  memory({ params, inputs }) {
    const d = inputs.video;
    if (d === null) return undefined; // connected, but its size is not known before it runs
    const [batch, frames, h, w] =
      d && d.length === 5 ? [d[0]!, d[2]!, d[3]!, d[4]!] : [1, params.frames, params.maskHeight, params.maskWidth];
    const mask = batch * frames * h * w * 4;
    return {
      outputs: { mask: { dims: [batch, 1, frames, h, w], dtype: 'float32' } },
      scratchBytes: mask + 2 * h * w * 4,
    };
  },
  async run({ params, inputs, context }) {
    const d = inputs.video?.tensor.dims;
    const [batch, frames, h, w] =
      d && d.length === 5 ? [d[0]!, d[2]!, d[3]!, d[4]!] : [1, params.frames, params.maskHeight, params.maskWidth];
    const plane = rectPlane(w, h, params);
    const uploaded = await uploadOwned(context.tensors, plane, [1, 1, 1, h, w]);
    return {
      mask: {
        kind: 'mask' as const,
        tensor: await resizeOwned(context, uploaded, [batch, 1, frames, h, w], 'nearest'),
      },
    };
  },
});

/** One H×W plane of the rectangle mask (row-major), as {@link maskRectNode} documents. */
export function rectPlane(
  w: number,
  h: number,
  r: { x: number; y: number; width: number; height: number; feather: number; invert: boolean },
): Float32Array {
  const left = r.x * w;
  const right = Math.min(1, r.x + r.width) * w;
  const top = r.y * h;
  const bottom = Math.min(1, r.y + r.height) * h;
  const out = new Float32Array(w * h);
  for (let py = 0; py < h; py++) {
    const cy = py + 0.5;
    for (let px = 0; px < w; px++) {
      const cx = px + 0.5;
      // Distance from the pixel centre to the nearest edge, positive inside.
      const inside = Math.min(cx - left, right - cx, cy - top, bottom - cy);
      const v = inside < 0 ? 0 : r.feather > 0 ? Math.min(1, inside / r.feather) : 1;
      out[py * w + px] = r.invert ? 1 - v : v;
    }
  }
  return out;
}
