/** MP4/WebM encoding and video/image decoding through the system ffmpeg (see `ffmpeg-tool.ts`). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { releaseMemory } from '@kinegraph/core/sdk';
import { decodeCost, requireBudget } from './budget.js';
import { mediaError } from './errors.js';
import { ffmpegPath, ffprobePath, fileUrl, runTool } from './ffmpeg-tool.js';
import type { RgbaClip, RgbaFrame } from './frames.js';

/** Containers {@link encodeVideoFile} writes. */
export type FfmpegFormat = 'mp4' | 'webm';

/** Default CRF per format: visually clean at small sizes (H.264 0–51, VP9 0–63; lower is better). */
export const DEFAULT_CRF: Readonly<Record<FfmpegFormat, number>> = { mp4: 20, webm: 32 };
/** Highest CRF each encoder accepts. */
export const MAX_CRF: Readonly<Record<FfmpegFormat, number>> = { mp4: 51, webm: 63 };

/** Options of {@link encodeVideoFile}. */
export interface EncodeVideoOptions {
  readonly format: FfmpegFormat;
  readonly clip: RgbaClip;
  readonly outPath: string;
  readonly crf: number;
  /**
   * Nearest-neighbour scale to this size inside ffmpeg while encoding. Meant for whole-number factors, where
   * it replicates each pixel exactly as a device resize would.
   */
  readonly scale?: { readonly width: number; readonly height: number };
  /** Stored as the container's `comment` tag (MP4 ©cmt, Matroska COMMENT). */
  readonly comment?: string;
  readonly signal?: AbortSignal;
}

/**
 * Encodes RGBA frames to H.264 MP4 or VP9 WebM, yuv420p (what browsers and phones play). Odd sizes are
 * padded by one pixel, as 4:2:0 needs even dimensions. The comment goes through an ffmetadata file, not
 * the command line, so a large workflow cannot hit the argument length limit.
 */
export async function encodeVideoFile(options: EncodeVideoOptions): Promise<void> {
  const { clip, format } = options;
  const scratch = await mkdtemp(join(tmpdir(), 'kinegraph-ffmeta-'));
  try {
    const args = [
      '-hide_banner',
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgba',
      '-s',
      `${clip.width}x${clip.height}`,
      '-framerate',
      String(clip.fps),
      '-i',
      'pipe:0',
    ];
    if (options.comment !== undefined) {
      const meta = join(scratch, 'meta.txt');
      await writeFile(meta, `;FFMETADATA1\ncomment=${escapeFfmetadata(options.comment)}\n`, 'utf8');
      args.push('-f', 'ffmetadata', '-i', fileUrl(meta), '-map_metadata', '1');
    }
    const scale = options.scale
      ? `scale=${options.scale.width}:${options.scale.height}:flags=neighbor,format=rgba,`
      : '';
    args.push('-map', '0:v', '-vf', `${scale}pad=ceil(iw/2)*2:ceil(ih/2)*2`, '-pix_fmt', 'yuv420p');
    if (format === 'mp4')
      args.push(
        '-c:v',
        'libx264',
        '-preset',
        'medium',
        '-crf',
        String(options.crf),
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
      );
    else
      args.push(
        '-c:v',
        'libvpx-vp9',
        '-crf',
        String(options.crf),
        '-b:v',
        '0',
        '-deadline',
        'good',
        '-cpu-used',
        '4',
        '-row-mt',
        '1',
        '-f',
        'webm',
      );
    args.push(fileUrl(options.outPath));
    await runTool(ffmpegPath(), args, {
      input: clip.frames,
      purpose: `encoding ${format.toUpperCase()}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** ffmetadata escapes `=`, `;`, `#`, `\` and newlines with a backslash. */
function escapeFfmetadata(text: string): string {
  return text.replace(/[=;#\\\n]/g, (c) => `\\${c}`);
}

/** What ffprobe says about a file's first video stream and its container. */
export interface ProbeResult {
  readonly width: number;
  readonly height: number;
  /** Frames per second (avg_frame_rate, else r_frame_rate; 0 when unknown). */
  readonly fps: number;
  readonly codec: string;
  readonly pixFmt: string;
  /** Frame count when the container states it, else undefined. */
  readonly frames: number | undefined;
  /** Seconds, when known. */
  readonly duration: number | undefined;
  /** Container tags (`comment`, `encoder`, ...), keys lower-cased. */
  readonly tags: Readonly<Record<string, string>>;
}

/** Probes a media file with ffprobe. A file without a video stream, or that ffprobe rejects, is an error naming it. */
export async function probeMedia(path: string, signal?: AbortSignal): Promise<ProbeResult> {
  const args = [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=width,height,avg_frame_rate,r_frame_rate,codec_name,pix_fmt,nb_frames,duration:format=duration:format_tags',
    '-of',
    'json',
    fileUrl(path),
  ];
  let json: { streams?: Array<Record<string, unknown>>; format?: { duration?: string; tags?: Record<string, string> } };
  try {
    const { stdout } = await runTool(ffprobePath(), args, {
      purpose: `reading "${basename(path)}"`,
      ...(signal ? { signal } : {}),
    });
    json = JSON.parse(stdout.toString('utf8'));
  } catch (error) {
    if ((error as { code?: string }).code === 'FFMPEG_FAILED') {
      throw mediaError(
        'VIDEO_DECODE_FAILED',
        `"${basename(path)}" could not be read as a video or image: ${(error as Error).message.replace(/^.*?: /, '')}`,
        'The file may be empty, truncated or not a media file.',
        undefined,
        error,
      );
    }
    throw error;
  }
  const stream = json.streams?.[0];
  if (!stream || !(Number(stream.width) > 0)) {
    throw mediaError('VIDEO_DECODE_FAILED', `"${basename(path)}" has no video stream.`, 'Give a video or image file.');
  }
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(json.format?.tags ?? {})) tags[k.toLowerCase()] = v;
  const nb = Number(stream.nb_frames);
  const duration = Number(stream.duration ?? json.format?.duration);
  return {
    width: Number(stream.width),
    height: Number(stream.height),
    fps: rate(stream.avg_frame_rate) || rate(stream.r_frame_rate),
    codec: String(stream.codec_name ?? ''),
    pixFmt: String(stream.pix_fmt ?? ''),
    frames: Number.isFinite(nb) && nb > 0 ? nb : undefined,
    duration: Number.isFinite(duration) ? duration : undefined,
    tags,
  };
}

function rate(value: unknown): number {
  const [n, d] = String(value ?? '')
    .split('/')
    .map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  const r = d === undefined ? n : d > 0 ? n / d : 0;
  return Number.isFinite(r) && r > 0 ? r : 0;
}

/** Options of {@link decodeVideoFile}. */
export interface DecodeVideoOptions {
  /** Keep at most this many frames (0: all). */
  readonly maxFrames?: number;
  /** Keep every `step`-th frame. */
  readonly step?: number;
  readonly signal?: AbortSignal;
  /** Bytes the kept frames may take as RGBA and tensor data (see `budget.ts`); undefined: no limit. */
  readonly budgetBytes?: number;
  /** Called as frames are kept, with the share of the frames expected (when the file states a count). */
  readonly progress?: (fraction: number) => void;
}

/**
 * Decodes a video (anything ffmpeg reads) to RGBA frames, streaming: only kept frames are held, and
 * ffmpeg stops after the last frame needed. fps is the file's divided by `step`. The probed size and
 * frame count are checked against `budgetBytes` before decoding; a stream that states no count is
 * stopped (ffmpeg killed) at the frame that would pass it.
 */
export async function decodeVideoFile(path: string, options: DecodeVideoOptions = {}): Promise<RgbaClip> {
  const probe = await probeMedia(path, options.signal);
  const step = Math.max(1, options.step ?? 1);
  const max = options.maxFrames && options.maxFrames > 0 ? options.maxFrames : 0;
  const what = (n: number | string) => `"${basename(path)}" (${probe.width}\u00d7${probe.height}, ${n} frames)`;
  const stated = probe.frames ?? (probe.duration && probe.fps ? Math.ceil(probe.duration * probe.fps) : undefined);
  const planned = stated === undefined ? max || undefined : Math.min(max || Infinity, Math.ceil(stated / step));
  if (planned !== undefined)
    requireBudget(decodeCost(probe.width, probe.height, planned), options.budgetBytes, what(planned));
  // Stops ffmpeg from the stdout handler when the frames kept so far pass the budget.
  const stop = new AbortController();
  const forward = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) forward();
  options.signal?.addEventListener('abort', forward, { once: true });
  const frameBytes = probe.width * probe.height * 4;
  const frames: Uint8Array[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const args = ['-hide_banner', '-v', 'error', '-nostdin', '-i', fileUrl(path), '-map', '0:v:0'];
  if (max > 0) args.push('-frames:v', String((max - 1) * step + 1));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1');
  await runTool(ffmpegPath(), args, {
    purpose: `decoding "${basename(path)}"`,
    signal: stop.signal,
    onStdout(chunk) {
      if (stop.signal.aborted) return;
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= frameBytes) {
        if (index % step === 0 && (max === 0 || frames.length < max)) {
          try {
            requireBudget(
              decodeCost(probe.width, probe.height, frames.length + 1),
              options.budgetBytes,
              what(`${frames.length + 1}+`),
            );
          } catch (error) {
            releaseMemory(...frames);
            frames.length = 0;
            stop.abort(error);
            return;
          }
          frames.push(new Uint8Array(pending.subarray(0, frameBytes)));
          if (planned) options.progress?.(Math.min(1, frames.length / planned));
        }
        index++;
        pending = pending.subarray(frameBytes);
      }
    },
  })
    .catch((error: unknown) => {
      // Cancelled or failed part-way: the frames kept so far are nobody's.
      releaseMemory(...frames);
      throw error;
    })
    .finally(() => options.signal?.removeEventListener('abort', forward));
  if (frames.length === 0)
    throw mediaError(
      'VIDEO_DECODE_FAILED',
      `"${basename(path)}" decoded to no frames.`,
      'The file may be empty or truncated.',
    );
  return { width: probe.width, height: probe.height, frames, fps: (probe.fps || 24) / step };
}

/** Decodes the first frame of an image (JPEG, WebP, BMP, ...) with ffmpeg. */
export async function decodeImageFile(path: string, signal?: AbortSignal, budgetBytes?: number): Promise<RgbaFrame> {
  const clip = await decodeVideoFile(path, {
    maxFrames: 1,
    ...(signal ? { signal } : {}),
    ...(budgetBytes !== undefined ? { budgetBytes } : {}),
  });
  return { width: clip.width, height: clip.height, data: clip.frames[0]! };
}
