import { defineNode, releaseMemory, Type } from '@kinegraph/core/sdk';
import { limitsOf, requireUploadBudget } from '../../media/budget.js';
import { withNodeId } from '../../media/errors.js';
import { requestedSize } from '../../media/sizes.js';
import { fileFingerprint, loadImageFile } from '../../media/sources.js';
import { uploadClip } from '../../media/tensor-io.js';
import { loaderSizeParams, resizeOwned } from './resize.js';

/**
 * **Load Image** (`kinegraph/load-image`): reads an image file into an `image` tensor [1, 3, H, W] in
 * [-1, 1], optionally resized. Use it for the first frame of image-to-video, a style reference, or the
 * picture a cinemagraph animates.
 *
 * PNG and GIF (first frame) are decoded in pure JS; JPEG, WebP, BMP and TIFF need the system ffmpeg.
 * The format is chosen from the file's content, not its extension. Alpha is dropped (use LoadMask to
 * read it). Paths are relative to the workflow's folder or `inputs/`, inside the run's allowed folders.
 */
export const loadImageNode = defineNode({
  type: 'kinegraph/load-image',
  version: 1,
  title: 'Load Image',
  category: 'io/image',
  description: 'Reads a PNG or GIF (pure JS), or JPEG/WebP/BMP/TIFF (with ffmpeg), as an image, optionally resized.',
  params: Type.Object({
    path: Type.String({
      minLength: 1,
      default: 'image.png',
      description: 'Image file, relative to the workflow\u2019s folder or inputs/.',
    }),
    ...loaderSizeParams(),
    mode: Type.Union([Type.Literal('linear'), Type.Literal('nearest')], {
      default: 'linear',
      description: 'Interpolation when resizing.',
    }),
  }),
  inputs: {},
  outputs: { image: { type: 'image' } },
  fingerprint: (params, { files }) => fileFingerprint(files, params.path),
  async run({ params, context }) {
    return withNodeId(context.nodeId, async () => {
      const picture = await loadImageFile(context.files, params.path, limitsOf(context));
      const size = requestedSize(picture.height, picture.width, params.width, params.height);
      try {
        requireUploadBudget(
          limitsOf(context),
          `"${params.path}"`,
          { frames: 1, width: picture.width, height: picture.height },
          size,
        );
      } catch (error) {
        releaseMemory(picture.data);
        throw error;
      }
      const uploaded = await uploadClip(
        context.tensors,
        { width: picture.width, height: picture.height, frames: [picture.data] },
        { asImage: true, signal: context.signal },
      );
      return { image: { kind: 'image' as const, tensor: await resizeOwned(context, uploaded, size, params.mode) } };
    });
  },
});
