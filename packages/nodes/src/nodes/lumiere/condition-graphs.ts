import { defineGraphFamily } from '@kinegraph/core/sdk';

/**
 * Image-to-video conditioning: the image on frame 0 and zeros after it; keep-mask 1 on frame 0 only.
 * Input `image` [B,3,H,W] → `video` [B,3,F,H,W], `keep` [B,1,F,H,W].
 */
export const imageConditionGraph = defineGraphFamily(
  (frames: number) => `kinegraph-image-condition-f${frames}`,
  (g, frames) => {
    const image = g.input('image', 'float32', ['B', 3, 'H', 'W']);
    const first = g.unsqueeze(image, [2]); // [B,3,1,H,W]
    const pads = [0, 0, 0, 0, 0, 0, 0, frames - 1, 0, 0];
    // Ones like the image's first channel, then padded with zeros over the later frames.
    const one = g.add(g.mul(g.slice(first, [0], [1], [1]), g.scalar(0)), g.scalar(1));
    return { video: g.pad(first, pads), keep: g.pad(one, pads) };
  },
);

/**
 * Mask conditioning. `source` [B,3,F,H,W], `region` [B,1,F,H,W] (1 = the region).
 * - inpaint: regenerate inside the region: keep = 1 − region, known = source · keep.
 * - cinemagraph: animate inside the region, everything else is the first frame held still:
 *   keep = 1 − region, known = (first frame repeated) · keep.
 */
export const maskConditionGraph = defineGraphFamily(
  (mode: 'inpaint' | 'cinemagraph') => `kinegraph-mask-condition-${mode}`,
  (g, mode) => {
    const source = g.input('source', 'float32', ['B', 3, 'F', 'H', 'W']);
    const region = g.input('region', 'float32', ['B', 1, 'F', 'H', 'W']);
    const keep = g.sub(g.scalar(1), region);
    const known = mode === 'cinemagraph' ? g.expand(g.slice(source, [0], [1], [2]), g.shape(source)) : source;
    return { known: g.mul(known, keep), keep };
  },
);

/** A [B,1,H,W] mask (or image-shaped [B,C,H,W], first channel) repeated over F frames → [B,1,F,H,W]. */
export const maskToVideoGraph = defineGraphFamily(
  (frames: number) => `kinegraph-mask-to-video-f${frames}`,
  (g, frames) => {
    const mask = g.input('mask', 'float32', ['B', 'C', 'H', 'W']);
    const first = g.unsqueeze(g.slice(mask, [0], [1], [1]), [2]); // [B,1,1,H,W]
    return { out: g.concat(new Array(frames).fill(first), 2) };
  },
);

/** An image [B,3,H,W] repeated over F frames → a still video [B,3,F,H,W]. */
export const imageToVideoGraph = defineGraphFamily(
  (frames: number) => `kinegraph-image-to-video-f${frames}`,
  (g, frames) => {
    const image = g.unsqueeze(g.input('image', 'float32', ['B', 3, 'H', 'W']), [2]);
    return { out: g.concat(new Array(frames).fill(image), 2) };
  },
);
