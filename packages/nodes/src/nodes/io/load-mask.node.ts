import type { Static } from '@kinegraph/core/sdk';
import { defineNode, releaseMemory, Type } from '@kinegraph/core/sdk';
import { limitsOf, requireUploadBudget } from '../../media/budget.js';
import { withNodeId } from '../../media/errors.js';
import { requestedSize } from '../../media/sizes.js';
import type { LoadedImage } from '../../media/sources.js';
import { fileFingerprint, loadImageFile } from '../../media/sources.js';
import { uploadOwned } from '../../media/tensor-io.js';
import { resizeOwned } from './resize.js';

const params = Type.Object({
  path: Type.String({
    minLength: 1,
    default: 'mask.png',
    description: 'Image file, relative to the workflow\u2019s folder or inputs/.',
  }),
  channel: Type.Union([Type.Literal('auto'), Type.Literal('luminance'), Type.Literal('alpha')], {
    default: 'auto',
    description:
      'Which values make the mask: alpha, luminance (white = 1), or auto (alpha when the image has any transparency, else luminance).',
  }),
  binarize: Type.Boolean({ default: false, description: 'Turn the mask into 0/1 at the threshold.' }),
  threshold: Type.Number({
    default: 0.5,
    minimum: 0,
    maximum: 1,
    description: 'With binarize: values at or above it become 1.',
  }),
  invert: Type.Boolean({ default: false, description: 'Swap the region and the rest (1 − mask), applied last.' }),
  width: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 8192,
    description: 'Resize to this width; 0 keeps it (or follows the aspect ratio).',
  }),
  height: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 8192,
    description: 'Resize to this height; 0 keeps it (or follows the aspect ratio).',
  }),
  frames: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 10000,
    description: '0: a still mask [1, 1, H, W]; n: the same mask for n frames [1, 1, n, H, W].',
  }),
});

/**
 * **Load Mask** (`kinegraph/load-mask`): reads an image file as a `mask` in [0, 1] (1 marks the region),
 * from its alpha or luminance, optionally thresholded, inverted, resized and repeated over frames. Use
 * it to say where inpainting repaints or which part of a cinemagraph moves.
 *
 * Formats as LoadImage (PNG/GIF in pure JS, others via ffmpeg). Resizing (on the device) is nearest when
 * binarized, so the mask stays 0/1, else linear.
 */
export const loadMaskNode = defineNode({
  type: 'kinegraph/load-mask',
  version: 1,
  title: 'Load Mask',
  category: 'io/mask',
  description: 'Reads an image file as a mask from its alpha or luminance, with threshold and invert options.',
  params,
  inputs: {},
  outputs: { mask: { type: 'mask' } },
  fingerprint: (p, { files }) => fileFingerprint(files, p.path),
  async run({ params: p, context }) {
    return withNodeId(context.nodeId, async () => {
      const picture = await loadImageFile(context.files, p.path, limitsOf(context));
      const { height, width } = picture;
      // Resized to frames × h × w on the device, one channel.
      const [rh, rw] = requestedSize(height, width, p.width, p.height);
      let values: Float32Array;
      try {
        requireUploadBudget(
          limitsOf(context),
          `"${p.path}"`,
          { frames: Math.max(1, p.frames), width, height, channels: 1 },
          [rh, rw],
        );
        values = maskValues(picture, p);
      } finally {
        // The decoded picture is not needed once its mask values are made (or refused).
        releaseMemory(picture.data);
      }
      // A still mask repeated over frames is uploaded once as [1, 1, 1, H, W] and expanded on the device.
      const dims = p.frames > 0 ? [1, 1, 1, height, width] : [1, 1, height, width];
      const uploaded = await uploadOwned(context.tensors, values, dims);
      const [h, w] = requestedSize(height, width, p.width, p.height);
      const size = p.frames > 0 ? [p.frames, h, w] : [h, w];
      return {
        mask: {
          kind: 'mask' as const,
          tensor: await resizeOwned(context, uploaded, size, p.binarize ? 'nearest' : 'linear'),
        },
      };
    });
  },
});

/** Per-pixel mask values from an RGBA picture, as the params ask. */
export function maskValues(
  picture: LoadedImage,
  p: Pick<Static<typeof params>, 'channel' | 'binarize' | 'threshold' | 'invert'>,
): Float32Array {
  const { data } = picture;
  const count = picture.width * picture.height;
  let useAlpha = p.channel === 'alpha';
  if (p.channel === 'auto' && picture.hasAlpha) {
    for (let i = 0; i < count && !useAlpha; i++) useAlpha = data[i * 4 + 3]! < 255;
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    // Rec. 709 luma in integer weights, so white is exactly 1 and black exactly 0.
    let v = useAlpha
      ? data[i * 4 + 3]! / 255
      : (2126 * data[i * 4]! + 7152 * data[i * 4 + 1]! + 722 * data[i * 4 + 2]!) / 2_550_000;
    if (p.binarize) v = v >= p.threshold ? 1 : 0;
    out[i] = p.invert ? 1 - v : v;
  }
  return out;
}
