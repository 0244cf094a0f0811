/** Small previews of tensors for `context.progress(f, { preview })`, made with as little data moved as possible. */
import type { NodeContext, Preview, TensorHandle } from '@kinegraph/core/sdk';
import { tensorToFrames } from './frames.js';
import { encodeGif } from './gif.js';
import { encodePng } from './png.js';
import { readFloat32 } from './tensor-io.js';

/** Options of {@link makePreview}. */
export interface PreviewOptions {
  /** `png`: the first frame; `gif`: every frame, animated. Default `gif` for video, `png` for images. */
  readonly format?: 'png' | 'gif';
  /** Longest side in pixels; larger inputs are scaled down (aspect kept), smaller ones are left alone. Default 128. */
  readonly maxSize?: number;
  /** Frame rate of the GIF. Default 8. */
  readonly fps?: number;
}

/**
 * A preview of a video [B, 3, F, H, W] or image [B, 3, H, W] tensor in [-1, 1]: batch item 0 (and for PNG,
 * frame 0) is sliced and downsized ON DEVICE first, so only the small picture is read into JS. The
 * intermediate handles are released before returning, so a sampler can call this every step.
 *
 * @example
 * context.progress(step / steps, { preview: await makePreview(context, latentDecoded, { format: 'png' }) });
 */
export async function makePreview(
  context: Pick<NodeContext, 'ops' | 'tensors'>,
  tensor: TensorHandle,
  options: PreviewOptions = {},
): Promise<Preview> {
  const { ops, tensors } = context;
  const isVideo = tensor.dims.length === 5;
  if (!(isVideo || tensor.dims.length === 4) || tensor.dims[1] !== 3 || tensor.dtype !== 'float32') {
    throw new RangeError(
      `makePreview: expected float32 [B, 3, F, H, W] or [B, 3, H, W], got ${tensor.dtype} [${tensor.dims.join(', ')}]`,
    );
  }
  const format = options.format ?? (isVideo ? 'gif' : 'png');
  const temps: TensorHandle[] = [];
  try {
    let t = tensor;
    if (t.dims[0]! > 1) temps.push((t = await ops.slice(t, 0, 0, 1)));
    if (isVideo && format === 'png' && t.dims[2]! > 1) temps.push((t = await ops.slice(t, 2, 0, 1)));
    const height = t.dims.at(-2)!;
    const width = t.dims.at(-1)!;
    const [h, w] = fitWithin(height, width, options.maxSize ?? 128);
    if (h !== height || w !== width) temps.push((t = await ops.resize(t, [h, w], 'linear')));
    const data = await readFloat32(tensors, t);
    const frames = tensorToFrames(data, t.dims);
    if (format === 'png') return { mime: 'image/png', data: encodePng(frames[0]!), width: w, height: h };
    return {
      mime: 'image/gif',
      data: encodeGif(
        { width: w, height: h, frames: frames.map((f) => f.data), fps: options.fps ?? 8 },
        undefined,
        'rgb444',
      ),
      width: w,
      height: h,
    };
  } finally {
    for (const h of temps) tensors.release(h);
  }
}

/** [height, width] scaled so the longer side is at most `maxSize` (never up), each at least 1. */
export function fitWithin(height: number, width: number, maxSize: number): [number, number] {
  const scale = Math.min(1, maxSize / Math.max(height, width));
  return [Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale))];
}
