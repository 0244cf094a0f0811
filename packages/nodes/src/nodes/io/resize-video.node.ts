import { defineNode, Type } from '@kinegraph/core/sdk';
import { mediaError } from '../../media/errors.js';
import { requestedSize } from '../../media/sizes.js';

/**
 * **Resize Video** (`kinegraph/resize-video`): scales a video to a new width/height, and optionally a new
 * frame count (space–time resize, as Lumiere's SSR and TSR stages need), on the device via
 * `context.ops.resize`. Use it to fit a loaded clip to a model's resolution or to make a preview copy.
 *
 * 0 keeps a dimension (one of width/height 0 follows the aspect ratio). Changing the frame count keeps
 * the clip's duration: fps scales by new/old frames. A no-op passes the input through unchanged.
 */
export const resizeVideoNode = defineNode({
  type: 'kinegraph/resize-video',
  version: 1,
  title: 'Resize Video',
  category: 'io/video',
  description: 'Resizes a video\u2019s width/height (and optionally frame count) on the device, nearest or linear.',
  params: Type.Object({
    width: Type.Integer({
      default: 128,
      minimum: 0,
      maximum: 8192,
      description: 'New width; 0 keeps it (or follows the aspect ratio when height is set).',
    }),
    height: Type.Integer({
      default: 128,
      minimum: 0,
      maximum: 8192,
      description: 'New height; 0 keeps it (or follows the aspect ratio when width is set).',
    }),
    frames: Type.Integer({ default: 0, minimum: 0, maximum: 10000, description: 'New frame count; 0 keeps it.' }),
    mode: Type.Union([Type.Literal('linear'), Type.Literal('nearest')], {
      default: 'linear',
      description: 'Interpolation: linear (smooth) or nearest (blocky, exact values).',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  // The resized video, and its copy out of the ONNX Runtime session.
  memory({ params, inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const [b, c, f, h, w] = d as [number, number, number, number, number];
    const [nh, nw] = requestedSize(h, w, params.width, params.height);
    const nf = params.frames > 0 ? params.frames : f;
    const bytes = b * c * nf * nh * nw * 4;
    return { outputs: { video: { dims: [b, c, nf, nh, nw], dtype: 'float32' } }, scratchBytes: bytes };
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5) {
      throw mediaError(
        'INVALID_INPUT',
        `Resize Video needs a video tensor [B, C, F, H, W]; got [${tensor.dims.join(', ')}].`,
        'Connect a video output.',
        context.nodeId,
      );
    }
    const [, , f, h, w] = tensor.dims as [number, number, number, number, number];
    const [nh, nw] = requestedSize(h, w, params.width, params.height);
    const nf = params.frames > 0 ? params.frames : f;
    if (nh === h && nw === w && nf === f) return { video: inputs.video };
    const size = nf === f ? [nh, nw] : [nf, nh, nw];
    const resized = await context.ops.resize(tensor, size, params.mode);
    return { video: { kind: 'video' as const, tensor: resized, fps: (fps * nf) / f } };
  },
});
