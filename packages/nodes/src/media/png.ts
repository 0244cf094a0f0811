/** PNG encode/decode (pure JS, fast-png) to and from 8-bit RGBA. */

import type { DecodedPng } from 'fast-png';
import { convertIndexedToRgb, decode, encode, hasPngSignature } from 'fast-png';
import { type DecodeLimits, decodeCost, requireBudget } from './budget.js';
import { mediaError } from './errors.js';
import type { RgbaFrame } from './frames.js';

/** A decoded PNG as RGBA, with its text chunks and whether it had an alpha channel. */
export interface DecodedRgbaPng extends RgbaFrame {
  readonly text: Readonly<Record<string, string>>;
  readonly hasAlpha: boolean;
}

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && hasPngSignature(bytes);
}

/** Encodes an RGBA frame as an 8-bit RGBA PNG, with optional tEXt chunks (Latin-1 values). */
export function encodePng(frame: RgbaFrame, text?: Readonly<Record<string, string>>): Uint8Array {
  return encode({
    width: frame.width,
    height: frame.height,
    data: frame.data,
    channels: 4,
    depth: 8,
    ...(text ? { text: { ...text } } : {}),
  });
}

/** Width and height from a PNG's IHDR chunk (it must come first), or undefined when there is none. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (!isPng(bytes) || bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Decodes any PNG fast-png reads (grey, grey+alpha, RGB, RGBA, palette; 1–16 bits) to 8-bit RGBA.
 * `name` is the file name used in the error a broken file gives (`IMAGE_DECODE_FAILED`). The size in
 * its header is checked against `limits.budgetBytes` before anything is inflated.
 */
export function decodePng(
  bytes: Uint8Array,
  name: string,
  limits: Pick<DecodeLimits, 'budgetBytes'> = {},
): DecodedRgbaPng {
  if (!isPng(bytes)) {
    throw mediaError(
      'IMAGE_DECODE_FAILED',
      `"${name}" is not a PNG file (${bytes.length === 0 ? 'it is empty' : 'no PNG signature'}).`,
      'Give a valid PNG, or re-export the image as PNG.',
    );
  }
  const size = pngSize(bytes);
  if (size)
    // fast-png's own output (up to 8 bytes a pixel at 16-bit RGBA) is held while the RGBA copy is made.
    requireBudget(
      decodeCost(size.width, size.height, 1, size.width * size.height * 8),
      limits.budgetBytes,
      `"${name}" (${size.width}\u00d7${size.height})`,
    );
  let png: DecodedPng;
  try {
    png = decode(bytes);
  } catch (error) {
    throw mediaError(
      'IMAGE_DECODE_FAILED',
      `"${name}" could not be decoded as PNG: ${(error as Error).message}.`,
      'The file may be truncated or damaged; re-export it.',
      undefined,
      error,
    );
  }
  return { ...toRgba(png), text: png.text ?? {} };
}

function toRgba(png: DecodedPng): RgbaFrame & { hasAlpha: boolean } {
  const { width, height } = png;
  const pixels = width * height;
  const out = new Uint8Array(pixels * 4);
  if (png.palette) {
    // Palette entries are [r, g, b] or [r, g, b, a]; fast-png expands indices (any bit depth) for us.
    const expanded = convertIndexedToRgb(png);
    const stride = png.palette[0]?.length ?? 3;
    for (let i = 0; i < pixels; i++) {
      out[i * 4] = expanded[i * stride]!;
      out[i * 4 + 1] = expanded[i * stride + 1]!;
      out[i * 4 + 2] = expanded[i * stride + 2]!;
      out[i * 4 + 3] = stride === 4 ? expanded[i * stride + 3]! : 255;
    }
    return { width, height, data: out, hasAlpha: stride === 4 };
  }
  const channels = png.channels;
  const sample = sampleReader(png);
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    if (channels <= 2) {
      const v = sample(s);
      out[i * 4] = v;
      out[i * 4 + 1] = v;
      out[i * 4 + 2] = v;
      out[i * 4 + 3] = channels === 2 ? sample(s + 1) : 255;
    } else {
      out[i * 4] = sample(s);
      out[i * 4 + 1] = sample(s + 1);
      out[i * 4 + 2] = sample(s + 2);
      out[i * 4 + 3] = channels === 4 ? sample(s + 3) : 255;
    }
  }
  return { width, height, data: out, hasAlpha: channels === 2 || channels === 4 };
}

/** Reads sample n (row-major, channels interleaved) as 0..255 for any bit depth. */
function sampleReader(png: DecodedPng): (n: number) => number {
  const { data, depth, width, channels } = png;
  if (depth === 8) return (n) => data[n]!;
  if (depth === 16) return (n) => data[n]! >> 8;
  // 1, 2 and 4-bit grey: rows are packed and padded to whole bytes.
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const max = (1 << depth) - 1;
  return (n) => {
    const row = Math.floor(n / perRow);
    const bit = (n % perRow) * depth;
    const byte = data[row * rowBytes + (bit >> 3)]!;
    const v = (byte >> (8 - depth - (bit & 7))) & max;
    return Math.round((v * 255) / max);
  };
}
