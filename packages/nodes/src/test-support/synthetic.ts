/**
 * Small synthetic pictures for tests: a coloured square moving over a flat background, in exact 8-bit
 * colours so lossless round trips can be checked byte for byte.
 */
import type { RgbaFrame } from '../media/frames.js';

/** Background and square colours (RGB bytes). */
export const BACKGROUND = [32, 48, 160] as const;
export const SQUARE = [240, 64, 32] as const;

/** Top-left corner of the square in frame `f` of a `w`×`h` clip (moves one step right and down per frame). */
export function squareOrigin(f: number, w: number, h: number): { x: number; y: number; size: number } {
  const size = Math.max(1, Math.floor(Math.min(w, h) / 4));
  const step = Math.max(1, Math.floor(Math.min(w, h) / 16));
  return { x: (f * step) % (w - size + 1), y: (f * step) % (h - size + 1), size };
}

/** Frame `f` of the moving-square clip as opaque RGBA. */
export function squareFrame(f: number, w: number, h: number): RgbaFrame {
  const data = new Uint8Array(w * h * 4);
  const { x, y, size } = squareOrigin(f, w, h);
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const inside = px >= x && px < x + size && py >= y && py < y + size;
      const c = inside ? SQUARE : BACKGROUND;
      const i = (py * w + px) * 4;
      data[i] = c[0];
      data[i + 1] = c[1];
      data[i + 2] = c[2];
      data[i + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

/** `count` frames of the moving-square clip. */
export function squareFrames(count: number, w: number, h: number): Uint8Array[] {
  return Array.from({ length: count }, (_, f) => squareFrame(f, w, h).data);
}

/** Mean absolute difference of two RGBA buffers over RGB (0–255). */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) sum += Math.abs(a[i + c]! - b[i + c]!);
    n += 3;
  }
  return sum / n;
}
