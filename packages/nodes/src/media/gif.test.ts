// decodeGifAsync under a cancel: it stops between frames and gives back the frames it had decoded at
// once (not at the thread's next garbage collection), and reports how far it got as it goes.
import { describe, expect, it } from 'vitest';
import { decodeGif, decodeGifAsync } from './gif.js';

const MB = 1024 * 1024;
const arrayBuffers = () => process.memoryUsage().arrayBuffers;

/** A GIF of a `side`² canvas with `frames` one-pixel frames: tiny on disk, `side`² × 4 bytes a frame decoded. */
function sparseGif(side: number, frames: number): Uint8Array {
  const u16 = (n: number) => [n & 0xff, n >> 8];
  const bytes = [...Buffer.from('GIF89a', 'latin1'), ...u16(side), ...u16(side), 0, 0, 0];
  for (let i = 0; i < frames; i++) {
    // Graphic control (delay 4/100 s), a 1×1 image at (i, 0) with a 2-colour local table, LZW: clear, 0, end.
    bytes.push(0x21, 0xf9, 4, 0, 4, 0, 0, 0);
    bytes.push(0x2c, ...u16(i % side), ...u16(0), ...u16(1), ...u16(1), 0x80);
    bytes.push(0, 0, 0, 255, 255, 255, 2, 2, 0x44, 0x01, 0);
  }
  bytes.push(0x3b);
  return Uint8Array.from(bytes);
}

describe('decodeGifAsync', () => {
  it('decodes what decodeGif decodes, reporting the share of frames done up to 1', async () => {
    const gif = sparseGif(64, 10);
    const seen: number[] = [];
    const clip = await decodeGifAsync(gif, 'sparse.gif', {}, { progress: (f) => seen.push(f) });
    expect(clip).toEqual(decodeGif(gif, 'sparse.gif'));
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) / 10));
  });

  it('stops when cancelled mid-way and gives back every frame it made, with no garbage collection', async () => {
    const gif = sparseGif(1024, 40); // 4 MB a frame decoded
    const before = arrayBuffers();
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    let decoded = 0;
    const work = decodeGifAsync(
      gif,
      'sparse.gif',
      {},
      {
        signal: controller.signal,
        progress: (f) => {
          decoded = Math.round(f * 40);
          if (decoded === 20) controller.abort(reason);
        },
      },
    );
    await expect(work).rejects.toBe(reason);
    expect(decoded).toBe(20); // stopped at the next frame boundary
    // 20 frames (80 MB) and the canvas were made; all of it is back.
    expect(arrayBuffers() - before).toBeLessThan(MB);
  });
});
