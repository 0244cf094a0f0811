import { defineNode, Type } from '@kinegraph/core/sdk';
import { mediaError } from '../../media/errors.js';
import { fitWithin, makePreview } from '../../media/preview.js';

/**
 * **Preview Video** (`kinegraph/preview-video`): shows a video in the editor as an animated GIF, sent
 * with `context.progress(1, { preview })`; writes no file and outputs nothing. Use it to look at an
 * intermediate result (a base-model clip before super-resolution) without saving it.
 *
 * Downsizing to `maxSize` happens on the device, so only the small preview is read into JS. Never
 * cached: each run sends the preview again.
 */
export const previewVideoNode = defineNode({
  type: 'kinegraph/preview-video',
  version: 1,
  title: 'Preview Video',
  category: 'io/video',
  description: 'Shows a video in the editor as an animated GIF preview; writes no file.',
  params: Type.Object({
    maxSize: Type.Integer({
      default: 256,
      minimum: 16,
      maximum: 1024,
      description: 'Longest side of the preview in pixels (never upscaled).',
    }),
    fps: Type.Number({
      default: 0,
      minimum: 0,
      maximum: 60,
      description: 'Preview frame rate; 0 uses the video\u2019s.',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: {},
  cache: false,
  // What the preview is made from, on the device: the first batch item (sliced out when there are more)
  // and that scaled down to maxSize, each twice while its call returns; then the small clip read into JS,
  // its RGBA frames and the GIF. Nothing when the host shows no previews, but the declaration cannot know.
  memory({ params, inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const [batch, , frames, h, w] = d as [number, number, number, number, number];
    const [ph, pw] = fitWithin(h, w, params.maxSize);
    const slice = batch > 1 ? 3 * frames * h * w * 4 : 0;
    const small = ph !== h || pw !== w ? 3 * frames * ph * pw * 4 : 0;
    const read = 3 * frames * ph * pw * 4;
    return { outputs: {}, scratchBytes: slice + small + Math.max(slice, small) + read + 2 * frames * ph * pw * 4 };
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw mediaError(
        'INVALID_INPUT',
        `Preview Video needs a video tensor [B, 3, F, H, W]; got [${tensor.dims.join(', ')}].`,
        'Connect a video output.',
        context.nodeId,
      );
    }
    if (!context.previews) return {}; // a host that shows no previews (the CLI): nothing to make
    const preview = await makePreview(context, tensor, {
      format: 'gif',
      maxSize: params.maxSize,
      fps: params.fps > 0 ? params.fps : fps,
    });
    context.progress(1, { preview });
    return {};
  },
});
