// Media bombs against the decoders (#18 item 1): each file's header is checked against the memory budget
// before a frame is decoded, a cancel stops a GIF mid-decode, and what was made is let go. Figures: the
// growth of ArrayBuffer memory while each bomb is refused, and after a cancelled decode plus a GC.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { hasFfmpeg, writeTestsrc } from '../../packages/editor/src/testing/ffmpeg.js';
import { decodeVideoFile } from '../../packages/nodes/src/media/ffmpeg-video.js';
import { decodeGif, decodeGifAsync } from '../../packages/nodes/src/media/gif.js';
import { decodePng } from '../../packages/nodes/src/media/png.js';
import { gifBomb, pngBomb } from './crafted.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
const GB = 1024 * MB;
/** ArrayBuffer memory after garbage collection (twice, with a turn of the event loop between). */
const buffers = async () => {
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().arrayBuffers;
};
const scratch = mkdtempSync(join(tmpdir(), 'kg-decoders-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const refused = { code: 'MEMORY_BUDGET_EXCEEDED' };

describe('decoders check the header against the budget before decoding', () => {
  it('a 1.8 KB GIF of 2048² × 60 one-pixel frames (3.9 GB decoded) is refused within a 1 GB budget', async () => {
    const bomb = gifBomb(2048, 60);
    expect(bomb.length).toBeLessThan(2000);
    const before = await buffers();
    expect(() => decodeGif(bomb, 'bomb.gif', {}, { budgetBytes: GB })).toThrow(expect.objectContaining(refused));
    expect(() => decodeGif(bomb, 'bomb.gif', { maxFrames: 80 }, { budgetBytes: GB })).toThrow(
      expect.objectContaining(refused),
    );
    const grown = (await buffers()) - before;
    console.log(`GIF bomb refused: ArrayBuffer memory grew ${(grown / MB).toFixed(1)} MB`);
    expect(grown).toBeLessThan(8 * MB);
    // Keeping few enough frames fits: 4 frames of 2048² are 256 MB with their tensor data.
    expect(decodeGif(bomb, 'bomb.gif', { maxFrames: 4 }, { budgetBytes: GB }).frames).toHaveLength(4);
  });

  it('a 32 KB PNG of 16384² (1 GB of RGBA, 4 GB with its tensor data) is refused before it is inflated', async () => {
    const bomb = pngBomb(16384);
    expect(bomb.length).toBeLessThan(40_000);
    const before = await buffers();
    expect(() => decodePng(bomb, 'bomb.png', { budgetBytes: GB })).toThrow(expect.objectContaining(refused));
    const grown = (await buffers()) - before;
    console.log(`PNG bomb refused: ArrayBuffer memory grew ${(grown / MB).toFixed(1)} MB`);
    expect(grown).toBeLessThan(8 * MB);
  });

  it('a cancelled GIF decode stops between frames and lets go of its frames', async () => {
    // 512² × 300 frames: 300 MB if it ran to the end.
    const bomb = gifBomb(512, 300);
    const before = await buffers();
    const controller = new AbortController();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
    setTimeout(() => controller.abort(new DOMException('cancelled', 'AbortError')), 30);
    await expect(decodeGifAsync(bomb, 'bomb.gif', {}, { signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    clearInterval(sampler);
    const after = (await buffers()) - before;
    console.log(
      `GIF decode cancelled at 30 ms: peak +${((peak - before) / MB).toFixed(0)} MB of the 300 MB a full decode makes, +${(after / MB).toFixed(1)} MB after GC`,
    );
    expect(peak - before).toBeLessThan(250 * MB);
    expect(after).toBeLessThan(2 * MB);
  });
});

describe.skipIf(!hasFfmpeg)('video through ffmpeg', () => {
  const make = (name: string, args: string[]) => writeTestsrc(join(scratch, name), '320x240', 25, args);

  it('is refused from its probed size and frame count before ffmpeg decodes it', async () => {
    const mp4 = make('clip.mp4', ['-frames:v', '100', '-pix_fmt', 'yuv420p']);
    // 100 frames of 320×240 are 123 MB with their tensor data; 10 frames are 12 MB.
    await expect(decodeVideoFile(mp4, { budgetBytes: 20 * MB })).rejects.toMatchObject(refused);
    expect((await decodeVideoFile(mp4, { budgetBytes: 20 * MB, maxFrames: 10 })).frames).toHaveLength(10);
  });

  it('a stream that states no frame count is stopped at the frame that would pass the budget', async () => {
    const raw = make('clip.h264', ['-frames:v', '100', '-pix_fmt', 'yuv420p', '-f', 'h264']);
    await expect(decodeVideoFile(raw, { budgetBytes: 20 * MB })).rejects.toMatchObject(refused);
  });
});
