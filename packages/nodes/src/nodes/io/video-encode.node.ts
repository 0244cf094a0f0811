import type { FileAccess, NodeContext } from '@kinegraph/core/sdk';
import { defineNode, KinegraphError, releaseMemory, Type } from '@kinegraph/core/sdk';
import { mediaError } from '../../media/errors.js';
import { ffmpegPath } from '../../media/ffmpeg-tool.js';
import type { FfmpegFormat } from '../../media/ffmpeg-video.js';
import { DEFAULT_CRF, encodeVideoFile, MAX_CRF } from '../../media/ffmpeg-video.js';
import type { RgbaClip } from '../../media/frames.js';
import { tensorToFrames, videoDims } from '../../media/frames.js';
import { encodeGif } from '../../media/gif.js';
import { nextOutputStem, SAFE_PREFIX_PATTERN } from '../../media/output-names.js';
import { encodePng } from '../../media/png.js';
import { requestedSize } from '../../media/sizes.js';
import { PNG_FPS_KEY } from '../../media/sources.js';
import { readFloat32 } from '../../media/tensor-io.js';
import { WORKFLOW_KEY, workflowToAscii } from '../../media/workflow-text.js';

/** Formats VideoEncode writes. */
export const VIDEO_FORMATS = ['mp4', 'webm', 'gif', 'png'] as const;
export type VideoFormat = (typeof VIDEO_FORMATS)[number];

const EXTENSIONS: Readonly<Record<VideoFormat, string>> = { mp4: 'mp4', webm: 'webm', gif: 'gif', png: 'png' };

/**
 * **Video Encode** (`kinegraph/video-encode`): saves a video to the run's output folder as MP4 (H.264,
 * yuv420p, via the system ffmpeg), WebM (VP9, via ffmpeg), GIF (pure JS, works without ffmpeg) or PNG
 * frames, with the workflow embedded in the file's metadata (MP4/WebM `comment` tag, GIF comment, PNG
 * tEXt `kinegraph-workflow`) so a shared video carries the graph that made it.
 *
 * Use it at the end of a generation graph. Files are written atomically (never half-written) and named
 * `<prefix>_00001.<ext>`, numbered past what the folder already holds. A batch of B videos writes B
 * files. PNG frames are `<prefix>_00001_0000.png`, `_0001.png`, ...; the first frame carries the
 * workflow and the frame rate (tEXt `kinegraph-fps`), and LoadVideo reads the sequence back from it.
 *
 * `width`/`height` resize while saving, as Resize Video would (0 keeps a side; one 0 follows the aspect
 * ratio), without a separate node: the usual way to make a tiny model's 32x32 clip watchable. For MP4/WebM
 * a whole-number nearest upscale is done by ffmpeg's scaler while it encodes (same pixels, and only the
 * small clip crosses into JS and the pipe); every other case resizes on the device first.
 *
 * Output `path`: the written file (for a batch, the first; for PNG frames, the first frame's file).
 */
export const videoEncodeNode = defineNode({
  type: 'kinegraph/video-encode',
  version: 1,
  title: 'Video Encode',
  category: 'io/video',
  description:
    'Saves a video as MP4 (H.264), WebM (VP9), GIF or PNG frames, with the workflow embedded in the file. MP4/WebM need ffmpeg; GIF and PNG do not.',
  params: Type.Object({
    format: Type.Union(
      VIDEO_FORMATS.map((f) => Type.Literal(f)),
      {
        default: 'mp4',
        description: 'mp4 (H.264) and webm (VP9) need ffmpeg; gif and png (one file per frame) do not.',
      },
    ),
    filenamePrefix: Type.String({
      default: 'kinegraph',
      pattern: SAFE_PREFIX_PATTERN,
      description: 'Start of the file name: letters, digits, ".", "_", "-".',
    }),
    fps: Type.Number({
      default: 0,
      minimum: 0,
      maximum: 240,
      description: 'Frames per second; 0 uses the video\u2019s own.',
    }),
    embedWorkflow: Type.Boolean({
      default: true,
      description: 'Store the workflow in the file\u2019s metadata so it can be loaded back from the video.',
    }),
    crf: Type.Integer({
      default: -1,
      minimum: -1,
      maximum: 63,
      description:
        'MP4/WebM quality (constant rate factor, lower is better): -1 uses the format default (H.264 20, VP9 32); H.264 allows 0–51, VP9 0–63.',
    }),
    width: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 8192,
      description: 'Width of the saved video; 0 keeps it (or follows the aspect ratio when height is set).',
    }),
    height: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 8192,
      description: 'Height of the saved video; 0 keeps it (or follows the aspect ratio when width is set).',
    }),
    mode: Type.Union([Type.Literal('linear'), Type.Literal('nearest')], {
      default: 'linear',
      description: 'Interpolation when width/height resize: linear (smooth) or nearest (blocky, exact values).',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { path: { type: 'text', description: 'The written file (the first one for a batch or PNG frames).' } },
  // Writing a file is the point: a cached result would skip the write after the user deleted the file.
  cache: false,
  // The video read back into JS (resized on the device first when asked, the resized copy held while it is
  // read, and twice while the resize returns), then per batch item its RGBA frames and the encoded file.
  memory({ params, inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const [batch, channels, frames, h, w] = d as [number, number, number, number, number];
    const [height, width] = requestedSize(h, w, params.width, params.height);
    const plan = resizePlan(params.format as VideoFormat, params.mode, { width: w, height: h }, { width, height });
    const [rh, rw] = plan === 'device' ? [height, width] : [h, w];
    const read = batch * channels * frames * rh * rw * 4;
    const rgba = frames * rh * rw * 4;
    return { outputs: {}, scratchBytes: (plan === 'device' ? 2 * read : read) + 2 * rgba };
  },
  async run({ params, inputs, context }) {
    const format = params.format as VideoFormat;
    if (!VIDEO_FORMATS.includes(format)) {
      throw new KinegraphError('FORMAT_UNSUPPORTED', `Video format "${String(format)}" is not supported.`, {
        nodeId: context.nodeId,
        hint: `Valid formats: ${VIDEO_FORMATS.join(', ')}.`,
      });
    }
    const crf = resolveCrf(format, params.crf, context.nodeId);
    const source = shapeOf(inputs.video.tensor.dims, context.nodeId);
    const fps = params.fps > 0 ? params.fps : inputs.video.fps > 0 ? inputs.video.fps : 24;
    const comment = params.embedWorkflow ? workflowToAscii(context.workflow) : undefined;
    const [height, width] = requestedSize(source.height, source.width, params.width, params.height);
    const plan = resizePlan(format, params.mode, source, { width, height });
    const tensor =
      plan === 'device'
        ? await context.ops.resize(inputs.video.tensor, [height, width], params.mode)
        : inputs.video.tensor;
    let data: Float32Array;
    try {
      data = await readFloat32(context.tensors, tensor);
    } finally {
      if (tensor !== inputs.video.tensor) context.tensors.release(tensor);
    }
    const dims = videoDims(tensor.dims);
    const scale = plan === 'encoder' ? { width, height } : undefined;
    const paths: string[] = [];
    try {
      for (let b = 0; b < dims.batch; b++) {
        context.throwIfCancelled();
        const frames = tensorToFrames(data, tensor.dims, b).map((f) => f.data);
        const clip: RgbaClip = { width: dims.width, height: dims.height, frames, fps };
        const stem = await nextOutputStem(context.files.outputFolder, params.filenamePrefix);
        paths.push(await writeClip(context, format, stem, clip, { crf, comment, scale }));
        // Written (an encoder has read every frame and exited): the frames go back now, not at this thread's
        // next collection. After a failure they are left to the collector, as a write may still be using one.
        releaseMemory(...frames);
        context.progress((b + 1) / dims.batch);
      }
    } finally {
      // Read in JS only: nothing else uses the read-back data once the frames are made.
      releaseMemory(data);
    }
    return { path: paths[0]! };
  },
});

function shapeOf(dims: readonly number[], nodeId: string) {
  try {
    return videoDims(dims);
  } catch (error) {
    throw mediaError(
      'INVALID_INPUT',
      `Video Encode needs a video tensor [B, 3, F, H, W]; got [${dims.join(', ')}].`,
      'Connect a video output (e.g. a sampler\u2019s decoded video).',
      nodeId,
      error,
    );
  }
}

/**
 * Where a requested resize happens: nowhere, in ffmpeg's scaler while encoding (MP4/WebM, nearest, whole-number
 * factors: each pixel becomes a block, exactly what the device resize gives, and the pipe carries the small
 * clip), or on the device before the frames are read (everything else, so every format gets the same pixels).
 */
function resizePlan(
  format: VideoFormat,
  mode: 'linear' | 'nearest',
  from: { width: number; height: number },
  to: { width: number; height: number },
): 'none' | 'encoder' | 'device' {
  if (from.width === to.width && from.height === to.height) return 'none';
  const whole = to.width % from.width === 0 && to.height % from.height === 0;
  return (format === 'mp4' || format === 'webm') && mode === 'nearest' && whole ? 'encoder' : 'device';
}

function resolveCrf(format: VideoFormat, crf: number, nodeId: string): number {
  if (format !== 'mp4' && format !== 'webm') return 0;
  if (crf < 0) return DEFAULT_CRF[format];
  if (crf > MAX_CRF[format]) {
    throw mediaError(
      'PARAM_INVALID',
      `crf ${crf} is out of range for ${format.toUpperCase()}.`,
      `Use 0–${MAX_CRF[format]} for ${format.toUpperCase()}, or -1 for the default (${DEFAULT_CRF[format]}).`,
      nodeId,
    );
  }
  return crf;
}

interface ClipOptions {
  readonly crf: number;
  readonly comment: string | undefined;
  /** Size ffmpeg scales to (nearest) while encoding; MP4/WebM only. */
  readonly scale: { readonly width: number; readonly height: number } | undefined;
}

async function writeClip(
  context: NodeContext,
  format: VideoFormat,
  stem: string,
  clip: RgbaClip,
  { crf, comment, scale }: ClipOptions,
): Promise<string> {
  const files: FileAccess = context.files;
  if (format === 'gif') return files.writeOutput(`${stem}.gif`, encodeGif(clip, comment));
  if (format === 'png') {
    let first = '';
    for (const [i, frame] of clip.frames.entries()) {
      const text: Record<string, string> =
        i === 0
          ? { [PNG_FPS_KEY]: String(clip.fps), ...(comment !== undefined ? { [WORKFLOW_KEY]: comment } : {}) }
          : {};
      const written = await files.writeOutput(
        `${stem}_${String(i).padStart(4, '0')}.png`,
        encodePng({ width: clip.width, height: clip.height, data: frame }, text),
      );
      if (i === 0) first = written;
    }
    return first;
  }
  const ffmpegFormat: FfmpegFormat = format;
  try {
    return await files.writeOutput(`${stem}.${EXTENSIONS[format]}`, (tmp) =>
      encodeVideoFile({
        format: ffmpegFormat,
        clip,
        outPath: tmp,
        crf,
        signal: context.signal,
        ...(comment !== undefined ? { comment } : {}),
        ...(scale ? { scale } : {}),
      }),
    );
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'FFMPEG_MISSING') {
      throw mediaError(
        'FFMPEG_MISSING',
        `${format.toUpperCase()} output needs ffmpeg, which was not found (tried "${ffmpegPath()}"). GIF and PNG output work without it.`,
        (error as KinegraphError).hint ?? '',
        context.nodeId,
        error,
      );
    }
    if (error instanceof KinegraphError && error.nodeId === undefined) {
      throw new KinegraphError(error.code, error.message, {
        nodeId: context.nodeId,
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error,
      });
    }
    throw error;
  }
}
