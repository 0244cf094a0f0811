/**
 * Reading pictures and clips from files through the node's sandbox (`context.files`), choosing the
 * decoder by content, not by extension: PNG and GIF in pure JS, everything else through ffmpeg.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type FileAccess, releaseMemory } from '@kinegraph/core/sdk';
import { checkpoint, type DecodeLimits, decodeCost, requireBudget } from './budget.js';
import { mediaError } from './errors.js';
import { decodeImageFile, decodeVideoFile } from './ffmpeg-video.js';
import type { RgbaClip, RgbaFrame } from './frames.js';
import type { FrameSelection } from './gif.js';
import { decodeGifAsync, isGif } from './gif.js';
import { decodePng, isPng, pngSize } from './png.js';

/** tEXt keyword under which PNG frames written by VideoEncode record their frame rate. */
export const PNG_FPS_KEY = 'kinegraph-fps';

/** An image read from a file, with whether it had alpha (LoadMask can use it). */
export interface LoadedImage extends RgbaFrame {
  readonly hasAlpha: boolean;
}

/**
 * Reads an image file: PNG and GIF (first frame) without ffmpeg; JPEG, WebP, BMP, ... with it. The header
 * is checked against `limits.budgetBytes` before decoding; `limits.signal` stops the work.
 */
export async function loadImageFile(files: FileAccess, path: string, limits: DecodeLimits = {}): Promise<LoadedImage> {
  const { signal, budgetBytes } = limits;
  const real = await files.resolveRead(path);
  const head = await readHead(real, path);
  // A .png name without a PNG signature is a broken or mislabelled file: say so rather than guess.
  if (isPng(head) || /\.png$/i.test(path)) {
    const bytes = await files.read(real);
    signal?.throwIfAborted();
    return decodePng(bytes, path, { ...(budgetBytes !== undefined ? { budgetBytes } : {}) });
  }
  if (isGif(head)) {
    const clip = await decodeGifAsync(await files.read(real), path, { maxFrames: 1 }, limits);
    return { width: clip.width, height: clip.height, data: clip.frames[0]!, hasAlpha: true };
  }
  try {
    const frame = await decodeImageFile(real, signal, budgetBytes);
    return { ...frame, hasAlpha: false };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'FFMPEG_MISSING') {
      throw mediaError(
        'FFMPEG_MISSING',
        `"${path}" is not a PNG or GIF; other image formats (JPEG, WebP, BMP, TIFF) are read with ffmpeg, which was not found.`,
        (error as { hint?: string }).hint ?? '',
        undefined,
        error,
      );
    }
    if (code === 'VIDEO_DECODE_FAILED' || code === 'FFMPEG_FAILED') {
      throw mediaError(
        'IMAGE_DECODE_FAILED',
        `"${path}" could not be decoded as an image.`,
        'Supported: PNG, GIF, and with ffmpeg JPEG, WebP, BMP, TIFF. The file may be damaged or not an image.',
        undefined,
        error,
      );
    }
    throw error;
  }
}

/**
 * Reads a clip: a GIF, a folder of PNG frames, a PNG frame sequence given by its first file
 * (`name_0000.png`, `name_0001.png`, ...) or a single PNG, all without ffmpeg; any other video with it.
 * `fallbackFps` is used where the file states none (PNG frames without a `kinegraph-fps` tag).
 */
export async function loadVideoFile(
  files: FileAccess,
  path: string,
  selection: FrameSelection & DecodeLimits & { fallbackFps: number },
): Promise<RgbaClip> {
  const real = await files.resolveRead(path);
  const sequence = await pngSequence(real);
  if (sequence) {
    // Read each frame by a path built from the user's own, so the sandbox judges it the same way.
    const base = sequence.isFolder ? path : dirname(path);
    return loadPngFrames(
      files,
      sequence.names.map((n) => join(base, n)),
      path,
      selection,
    );
  }
  const head = await readHead(real, path, 'VIDEO_DECODE_FAILED');
  if (isGif(head)) return decodeGifAsync(await files.read(real), path, selection, selection);
  if (isPng(head)) return loadPngFrames(files, [real], path, selection);
  try {
    return await decodeVideoFile(real, selection);
  } catch (error) {
    if ((error as { code?: string }).code === 'FFMPEG_MISSING') {
      throw mediaError(
        'FFMPEG_MISSING',
        `"${path}" is not a GIF or PNG frames; other videos (MP4, WebM, MOV, ...) are read with ffmpeg and ffprobe, which were not found. ${(error as Error).message}`,
        (error as { hint?: string }).hint ?? '',
        undefined,
        error,
      );
    }
    throw error;
  }
}

async function loadPngFrames(
  files: FileAccess,
  paths: readonly string[],
  name: string,
  selection: FrameSelection & DecodeLimits & { fallbackFps: number },
): Promise<RgbaClip> {
  const step = Math.max(1, selection.step ?? 1);
  const max = selection.maxFrames && selection.maxFrames > 0 ? selection.maxFrames : Infinity;
  const picked = paths.filter((_, i) => i % step === 0).slice(0, max);
  const frames: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  let fps = 0;
  try {
    for (const [i, p] of picked.entries()) {
      const bytes = await files.read(p);
      await checkpoint(selection.signal);
      // The first frame's header stands for all (every frame must have its size): all of them must fit.
      const size = i === 0 ? pngSize(bytes) : undefined;
      if (size)
        requireBudget(
          decodeCost(size.width, size.height, picked.length),
          selection.budgetBytes,
          `"${name}" (${size.width}\u00d7${size.height}, ${picked.length} PNG frames)`,
        );
      const png = decodePng(bytes, basename(p), {
        ...(selection.budgetBytes !== undefined ? { budgetBytes: selection.budgetBytes } : {}),
      });
      if (i === 0) {
        ({ width, height } = png);
        fps = Number(png.text[PNG_FPS_KEY]) || 0;
      } else if (png.width !== width || png.height !== height) {
        throw mediaError(
          'VIDEO_DECODE_FAILED',
          `"${basename(p)}" is ${png.width}×${png.height} but the first frame of "${name}" is ${width}×${height}.`,
          'All frames of a PNG sequence must have the same size.',
        );
      }
      frames.push(png.data);
      selection.progress?.(frames.length / picked.length);
    }
  } catch (error) {
    // Cancelled or failed part-way: the frames decoded so far are nobody's.
    releaseMemory(...frames);
    throw error;
  }
  return { width, height, frames, fps: (fps || selection.fallbackFps) / step };
}

/** Frame files of a PNG folder or sequence: names inside `dir`, in order. */
export interface PngSequence {
  readonly dir: string;
  readonly names: readonly string[];
  readonly isFolder: boolean;
}

/**
 * The frame files a resolved path stands for: every PNG in a folder (natural order), or for
 * `stem_0003.png` the run `stem_0003.png, stem_0004.png, ...` with the same digit count (at least two).
 * Undefined when the path is neither (a plain file).
 */
export async function pngSequence(real: string): Promise<PngSequence | undefined> {
  const info = await stat(real);
  if (info.isDirectory()) {
    const names = (await readdir(real)).filter((n) => /\.png$/i.test(n) && !n.startsWith('.'));
    names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    if (names.length === 0)
      throw mediaError(
        'VIDEO_DECODE_FAILED',
        `Folder "${basename(real)}" has no PNG frames.`,
        'Give a video file, a GIF, or a folder of PNG frames.',
      );
    return { dir: real, names, isFolder: true };
  }
  const match = /^(.*?)(\d+)\.png$/i.exec(basename(real));
  if (!match) return undefined;
  const [, stem, digits] = match as unknown as [string, string, string];
  const siblings = new Set(await readdir(dirname(real)));
  const names: string[] = [];
  for (let n = Number(digits); ; n++) {
    const name = `${stem}${String(n).padStart(digits.length, '0')}.png`;
    if (!siblings.has(name)) break;
    names.push(name);
  }
  return names.length > 1 ? { dir: dirname(real), names, isFolder: false } : undefined;
}

/** The first bytes of a file, to pick a decoder; an empty file is a coded error naming it. */
async function readHead(
  real: string,
  name: string,
  code: 'IMAGE_DECODE_FAILED' | 'VIDEO_DECODE_FAILED' = 'IMAGE_DECODE_FAILED',
): Promise<Uint8Array> {
  const info = await stat(real);
  if (!info.isFile()) throw mediaError(code, `"${name}" is not a file.`, 'Give the path of a file.');
  if (info.size === 0)
    throw mediaError(code, `"${name}" is empty (0 bytes).`, 'The file was not written completely; export it again.');
  const handle = await open(real, 'r');
  try {
    const buffer = new Uint8Array(16);
    const { bytesRead } = await handle.read(buffer, 0, 16, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Cache fingerprint of an input path: size and mtime of the file, or of every frame of a PNG folder or
 * sequence, so editing (or adding) a frame re-runs the loader. An unreadable path gives a fingerprint
 * that never matches, leaving the error to `run`, where it carries the node id.
 */
export async function fileFingerprint(files: FileAccess, path: string): Promise<string> {
  try {
    const real = await files.resolveRead(path);
    const sequence = await pngSequence(real).catch(() => undefined);
    const paths = sequence ? sequence.names.map((n) => join(sequence.dir, n)) : [real];
    const parts = await Promise.all(
      paths.map(async (p) => {
        const s = await stat(p);
        return `${p}:${s.size}:${s.mtimeMs}`;
      }),
    );
    return parts.join('|');
  } catch {
    return `unreadable:${Date.now()}:${Math.random()}`;
  }
}
