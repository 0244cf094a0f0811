import { defineNode, releaseMemory, Type } from '@kinegraph/core/sdk';
import { limitsOf, requireUploadBudget } from '../../media/budget.js';
import { withNodeId } from '../../media/errors.js';
import { requestedSize } from '../../media/sizes.js';
import { fileFingerprint, loadVideoFile } from '../../media/sources.js';
import { uploadClip } from '../../media/tensor-io.js';
import { loaderSizeParams, resizeOwned } from './resize.js';

/**
 * **Load Video** (`kinegraph/load-video`): reads a video into a `video` tensor [1, 3, F, H, W] in [-1, 1]
 * with its frame rate. Use it as the source of video-to-video, inpainting or super-resolution.
 *
 * GIFs, folders of PNG frames and PNG sequences (give the first file, `name_0000.png`) load without
 * ffmpeg; MP4, WebM, MOV and anything else ffmpeg reads need it. `frameStep` keeps every n-th frame (fps
 * is divided accordingly); `maxFrames` caps the count after stepping. A resize runs on the device.
 */
export const loadVideoNode = defineNode({
  type: 'kinegraph/load-video',
  version: 1,
  title: 'Load Video',
  category: 'io/video',
  description: 'Reads a video (MP4/WebM/... via ffmpeg; GIF and PNG frames without it) as a video tensor with its fps.',
  params: Type.Object({
    path: Type.String({
      minLength: 1,
      default: 'video.mp4',
      description:
        'Video file, GIF, PNG-frame folder or first PNG of a sequence, relative to the workflow\u2019s folder or inputs/.',
    }),
    maxFrames: Type.Integer({
      default: 80,
      minimum: 0,
      maximum: 10000,
      description: 'Keep at most this many frames (after frameStep); 0 keeps all.',
    }),
    frameStep: Type.Integer({
      default: 1,
      minimum: 1,
      maximum: 1000,
      description: 'Keep every n-th frame; the frame rate is divided by n.',
    }),
    ...loaderSizeParams(),
    fallbackFps: Type.Number({
      default: 24,
      exclusiveMinimum: 0,
      maximum: 240,
      description: 'Frame rate for PNG frames that do not record one.',
    }),
  }),
  inputs: {},
  outputs: { video: { type: 'video' } },
  fingerprint: (params, { files }) => fileFingerprint(files, params.path),
  async run({ params, context }) {
    return withNodeId(context.nodeId, async () => {
      // Decoding is the first half of the node's work, packing the frames into a tensor the second.
      const clip = await loadVideoFile(context.files, params.path, {
        maxFrames: params.maxFrames,
        step: params.frameStep,
        fallbackFps: params.fallbackFps,
        ...limitsOf(context),
        progress: (fraction) => context.progress(fraction / 2),
      });
      const size = requestedSize(clip.height, clip.width, params.width, params.height);
      try {
        context.throwIfCancelled();
        requireUploadBudget(
          limitsOf(context),
          `"${params.path}"`,
          { frames: clip.frames.length, width: clip.width, height: clip.height },
          size,
        );
      } catch (error) {
        // The decoded frames are nobody's now: their memory goes back at once.
        releaseMemory(...clip.frames);
        throw error;
      }
      const uploaded = await uploadClip(context.tensors, clip, {
        signal: context.signal,
        progress: (fraction) => context.progress(0.5 + fraction / 2),
      });
      return {
        video: { kind: 'video' as const, tensor: await resizeOwned(context, uploaded, size, 'linear'), fps: clip.fps },
      };
    });
  },
});
