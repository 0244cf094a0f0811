/** Animated GIF encode (gifenc) and decode (omggif), pure JS: the format that works without ffmpeg. */

import { releaseMemory } from '@kinegraph/core/sdk';
import { GifReader } from 'omggif';
import { checkpoint, type DecodeLimits, decodeCost, requireBudget } from './budget.js';
import { mediaError } from './errors.js';
import type { RgbaClip } from './frames.js';
import { gifenc } from './gifenc-lib.js';

const TRAILER = 0x3b;
const EXTENSION = 0x21;
const COMMENT_LABEL = 0xfe;
const IMAGE = 0x2c;

/** True for bytes starting with `GIF87a` or `GIF89a`. */
export function isGif(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 6 &&
    bytes[0] === 0x47 &&
    bytes[1] === 0x49 &&
    bytes[2] === 0x46 &&
    bytes[3] === 0x38 &&
    (bytes[4] === 0x37 || bytes[4] === 0x39) &&
    bytes[5] === 0x61
  );
}

/**
 * How finely colours are binned before each frame's palette is chosen: `rgb565` (65,536 bins) for files
 * people keep, `rgb444` (4,096 bins, about 15x faster on small frames) for previews sent while sampling.
 */
export type GifColourPrecision = 'rgb565' | 'rgb444';

/**
 * Encodes frames as a looping GIF89a, each with its own 256-colour palette (quantised per frame, so a
 * clip whose colours drift keeps them). `comment`, if given, is stored in a Comment Extension; it must be
 * 7-bit ASCII (see `workflowToAscii`).
 */
export function encodeGif(clip: RgbaClip, comment?: string, precision: GifColourPrecision = 'rgb565'): Uint8Array {
  const encoder = gifenc.GIFEncoder();
  // GIF delays are whole hundredths of a second; players treat delays under 2 as "as fast as possible".
  const delayMs = Math.max(20, Math.round(1000 / (clip.fps > 0 ? clip.fps : 10)));
  for (const rgba of clip.frames) {
    const palette = gifenc.quantize(rgba, 256, { format: precision });
    const index = gifenc.applyPalette(rgba, palette, precision);
    encoder.writeFrame(index, clip.width, clip.height, { palette, delay: delayMs, repeat: 0 });
  }
  encoder.finish();
  const bytes = encoder.bytes();
  return comment === undefined ? bytes : insertBeforeTrailer(bytes, commentExtension(comment));
}

/** A Comment Extension block: the text in sub-blocks of at most 255 bytes, then a 0 terminator. */
function commentExtension(text: string): Uint8Array {
  if (/[\u0080-\uffff]/.test(text)) throw new RangeError('GIF comments must be 7-bit ASCII');
  const data = new TextEncoder().encode(text);
  const blocks = Math.ceil(data.length / 255);
  const out = new Uint8Array(2 + data.length + blocks + 1);
  out[0] = EXTENSION;
  out[1] = COMMENT_LABEL;
  let o = 2;
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.subarray(i, i + 255);
    out[o++] = chunk.length;
    out.set(chunk, o);
    o += chunk.length;
  }
  out[o] = 0;
  return out;
}

function insertBeforeTrailer(gif: Uint8Array, block: Uint8Array): Uint8Array {
  const end = gif[gif.length - 1] === TRAILER ? gif.length - 1 : gif.length;
  const out = new Uint8Array(end + block.length + 1);
  out.set(gif.subarray(0, end));
  out.set(block, end);
  out[out.length - 1] = TRAILER;
  return out;
}

/**
 * Every Comment Extension's text in a GIF, in file order. Walks the block structure (omggif skips
 * comments), so it stops quietly at the first malformed block and returns what it found before it.
 */
export function readGifComments(bytes: Uint8Array): string[] {
  if (!isGif(bytes) || bytes.length < 13) return [];
  const comments: string[] = [];
  let p = 13;
  const flags = bytes[10]!;
  if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1));
  const readSubBlocks = (collect: number[] | undefined): boolean => {
    while (p < bytes.length) {
      const size = bytes[p++]!;
      if (size === 0) return true;
      if (p + size > bytes.length) return false;
      if (collect) for (let i = 0; i < size; i++) collect.push(bytes[p + i]!);
      p += size;
    }
    return false;
  };
  while (p < bytes.length) {
    const block = bytes[p++];
    if (block === TRAILER) break;
    if (block === EXTENSION) {
      const label = bytes[p++];
      const text = label === COMMENT_LABEL ? ([] as number[]) : undefined;
      if (!readSubBlocks(text)) break;
      if (text) comments.push(new TextDecoder('latin1').decode(Uint8Array.from(text)));
    } else if (block === IMAGE) {
      if (p + 9 > bytes.length) break;
      const local = bytes[p + 8]!;
      p += 9;
      if (local & 0x80) p += 3 * (1 << ((local & 7) + 1));
      p++; // LZW minimum code size
      if (!readSubBlocks(undefined)) break;
    } else break;
  }
  return comments;
}

/** Which frames to keep while decoding: every `step`-th, at most `maxFrames` (0: all). */
export interface FrameSelection {
  readonly maxFrames?: number;
  readonly step?: number;
}

/**
 * Decodes an animated (or still) GIF into full-canvas RGBA frames, honouring frame offsets, transparency
 * and disposal, with fps from the first frame's delay (10 fps when it is 0). Errors name the file. The
 * header (canvas × frames kept) is checked against `limits.budgetBytes` before any frame is decoded.
 */
export function decodeGif(
  bytes: Uint8Array,
  name: string,
  selection: FrameSelection = {},
  limits: Pick<DecodeLimits, 'budgetBytes'> = {},
): RgbaClip {
  const decoding = gifFrames(bytes, name, selection, limits);
  for (let step = decoding.next(); ; step = decoding.next()) if (step.done) return step.value;
}

/**
 * {@link decodeGif} that lets the event loop run between frames, and stops (throwing the abort reason,
 * keeping nothing) when `limits.signal` is aborted: what nodes use, so a cancel is not stuck behind a
 * long decode.
 */
export async function decodeGifAsync(
  bytes: Uint8Array,
  name: string,
  selection: FrameSelection = {},
  limits: DecodeLimits = {},
): Promise<RgbaClip> {
  const decoding = gifFrames(bytes, name, selection, limits);
  limits.signal?.throwIfAborted();
  try {
    for (let step = decoding.next(); ; step = decoding.next()) {
      if (step.done) return step.value;
      await checkpoint(limits.signal);
    }
  } finally {
    // Stopped between frames (cancelled): ending the generator runs its cleanup, which frees what it made.
    decoding.return(undefined as never);
  }
}

/** The decode, one frame per step, so callers choose whether to yield between frames. */
function* gifFrames(
  bytes: Uint8Array,
  name: string,
  selection: FrameSelection,
  limits: Pick<DecodeLimits, 'budgetBytes' | 'progress'>,
): Generator<void, RgbaClip> {
  let reader: GifReader;
  try {
    reader = new GifReader(bytes);
  } catch (error) {
    throw decodeFailed(name, error);
  }
  const { width, height } = reader;
  const step = Math.max(1, selection.step ?? 1);
  const max = selection.maxFrames && selection.maxFrames > 0 ? selection.maxFrames : Infinity;
  const count = reader.numFrames();
  // Reading the header walked every frame's descriptor but decoded none: the cost is known before any
  // pixel is made (kept frames, plus the canvas and the copy disposal mode 3 keeps).
  const kept = Math.min(max, Math.ceil(count / step));
  requireBudget(
    decodeCost(width, height, kept, width * height * 8),
    limits.budgetBytes,
    `"${name}" (${width}\u00d7${height}, ${kept} of ${count} frames)`,
  );
  const canvas = new Uint8Array(width * height * 4);
  const frames: Uint8Array[] = [];
  let saved: Uint8Array | undefined;
  let complete = false;
  try {
    for (let i = 0; i < count && frames.length < max; i++) {
      try {
        const info = reader.frameInfo(i);
        if (info.disposal === 3) (saved ??= new Uint8Array(canvas.length)).set(canvas);
        reader.decodeAndBlitFrameRGBA(i, canvas);
        if (i % step === 0) {
          frames.push(canvas.slice());
          limits.progress?.(frames.length / kept);
        }
        // Disposal applies after the frame was shown: 2 clears its rectangle, 3 restores what was before.
        if (info.disposal === 2) clearRect(canvas, width, info);
        else if (info.disposal === 3 && saved) canvas.set(saved);
      } catch (error) {
        throw decodeFailed(name, error);
      }
      yield;
    }
    if (frames.length === 0)
      throw mediaError('VIDEO_DECODE_FAILED', `"${name}" has no frames.`, 'Give a GIF with at least one frame.');
    const delay = count > 0 ? reader.frameInfo(0).delay : 0;
    complete = true;
    return { width, height, frames, fps: (delay > 0 ? 100 / delay : 10) / step };
  } finally {
    // The canvas is scratch, and the frames of a decode that did not finish (cancelled, or a damaged
    // frame) are nobody's: their memory goes back now, not whenever this thread next collects.
    releaseMemory(canvas, saved);
    if (!complete) releaseMemory(...frames);
  }
}

function decodeFailed(name: string, error: unknown) {
  return mediaError(
    'VIDEO_DECODE_FAILED',
    `"${name}" could not be decoded as GIF: ${(error as Error).message}.`,
    'The file may be truncated or damaged; re-export it.',
    undefined,
    error,
  );
}

function clearRect(
  canvas: Uint8Array,
  width: number,
  r: { x: number; y: number; width: number; height: number },
): void {
  for (let y = r.y; y < r.y + r.height; y++) canvas.fill(0, (y * width + r.x) * 4, (y * width + r.x + r.width) * 4);
}
