// LoadVideo: GIF, PNG folders and sequences without ffmpeg, MP4 through it, frame step/limit, resize,
// and clear errors for empty, corrupt and out-of-sandbox files.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestRuntime } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FFMPEG_ENV } from '../../media/ffmpeg-tool.js';
import { framesToTensor } from '../../media/frames.js';
import { encodePng } from '../../media/png.js';
import { squareFrame, squareFrames, writeSquareGif, writeSquareMp4 } from '../../test-support/index.js';
import { ioNodes } from './index.js';

let h: TestRuntime;
beforeAll(async () => {
  h = await createTestRuntime({ nodes: ioNodes });
  await writeSquareGif(h.inputs, 'clip.gif', 8, 32, 32, 10);
  await writeSquareMp4(h.inputs, 'clip.mp4', 8, 32, 32, 10);
  await mkdir(join(h.inputs, 'frames'));
  // Out of lexical order on purpose: 10 must come after 9.
  for (let f = 0; f < 11; f++)
    await writeFile(
      join(h.inputs, 'frames', `f${f}.png`),
      encodePng(squareFrame(f, 16, 16), f === 0 ? { 'kinegraph-fps': '12' } : undefined),
    );
  for (let f = 0; f < 5; f++)
    await writeFile(join(h.inputs, `seq_${String(f).padStart(4, '0')}.png`), encodePng(squareFrame(f, 16, 16)));
});
afterAll(async () => {
  await h?.close();
});

const load = (params: Record<string, unknown>) => ({
  load: { type: 'kinegraph/load-video', version: 1, params },
  v: capture('load', 'video'),
});

async function loaded(params: Record<string, unknown>) {
  const r = await h.run(load(params));
  expect(r.error).toBeUndefined();
  return { ...r.tensor('v'), fps: r.captured('v', 'video').fps };
}

describe('LoadVideo', () => {
  it('reads a GIF without ffmpeg, with its fps', async () => {
    const saved = process.env[FFMPEG_ENV];
    process.env[FFMPEG_ENV] = '/nonexistent/ffmpeg';
    try {
      const v = await loaded({ path: 'clip.gif' });
      expect(v.dims).toEqual([1, 3, 8, 32, 32]);
      expect(v.fps).toBe(10);
    } finally {
      if (saved === undefined) delete process.env[FFMPEG_ENV];
      else process.env[FFMPEG_ENV] = saved;
    }
  });

  it('reports progress as it decodes (first half) and packs the frames into a tensor (second half)', async () => {
    const r = await h.run(load({ path: 'clip.gif', maxFrames: 0, width: 16 }));
    expect(r.error).toBeUndefined();
    const fractions = r.events.flatMap((e) => (e.type === 'node:progress' && e.nodeId === 'load' ? [e.fraction] : []));
    // One report per decoded frame (8, up to 0.5), then the packing, up to 1.
    expect(fractions.filter((f) => f <= 0.5)).toEqual(Array.from({ length: 8 }, (_, i) => (i + 1) / 16));
    expect(fractions.at(-1)).toBe(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
  });

  it('reads a PNG folder in natural order, exactly, with the recorded fps', async () => {
    const v = await loaded({ path: 'frames' });
    expect(v.dims).toEqual([1, 3, 11, 16, 16]);
    expect(v.fps).toBe(12);
    const want = framesToTensor(squareFrames(11, 16, 16), 16, 16).data;
    expect(v.data).toEqual(want);
  });

  it('reads a PNG sequence from its first file, with frame step and limit', async () => {
    const v = await loaded({ path: 'seq_0000.png', frameStep: 2, maxFrames: 2, fallbackFps: 8 });
    expect(v.dims).toEqual([1, 3, 2, 16, 16]);
    expect(v.fps).toBe(4);
    const want = framesToTensor([squareFrame(0, 16, 16).data, squareFrame(2, 16, 16).data], 16, 16).data;
    expect(v.data).toEqual(want);
  });

  it('reads an MP4 through ffmpeg with fps, step, limit and a device resize', async () => {
    const all = await loaded({ path: 'clip.mp4' });
    expect(all.dims).toEqual([1, 3, 8, 32, 32]);
    expect(all.fps).toBe(10);
    const want = framesToTensor(squareFrames(8, 32, 32), 32, 32).data;
    let err = 0;
    for (let i = 0; i < want.length; i++) err += Math.abs(all.data[i]! - want[i]!);
    expect(err / want.length).toBeLessThan(0.08); // lossy, but the same picture
    const some = await loaded({ path: 'clip.mp4', frameStep: 3, maxFrames: 2, width: 16, height: 8 });
    expect(some.dims).toEqual([1, 3, 2, 8, 16]);
    expect(some.fps).toBeCloseTo(10 / 3, 6);
  });

  it('a zero-byte video and a corrupt one are VIDEO_DECODE_FAILED naming the file', async () => {
    await writeFile(join(h.inputs, 'empty.mp4'), '');
    const empty = await h.run(load({ path: 'empty.mp4' }));
    expect(empty.error).toMatchObject({ code: 'VIDEO_DECODE_FAILED', nodeId: 'load' });
    expect(empty.error!.message).toMatch(/empty\.mp4.*empty/);
    await writeFile(join(h.inputs, 'junk.mp4'), Buffer.alloc(4096, 7));
    const junk = await h.run(load({ path: 'junk.mp4' }));
    expect(junk.error).toMatchObject({ code: 'VIDEO_DECODE_FAILED', nodeId: 'load' });
    expect(junk.error!.message).toContain('junk.mp4');
    expect(junk.error!.hint).toBeTruthy();
    await writeFile(join(h.inputs, 'broken.gif'), Buffer.from('GIF89a\x10\x00'));
    const gif = await h.run(load({ path: 'broken.gif' }));
    expect(gif.error).toMatchObject({ code: 'VIDEO_DECODE_FAILED', nodeId: 'load' });
    expect(gif.error!.message).toContain('broken.gif');
  });

  it('an MP4 without ffmpeg is FFMPEG_MISSING', async () => {
    const saved = process.env[FFMPEG_ENV];
    process.env[FFMPEG_ENV] = '/nonexistent/ffmpeg';
    h.runtime.cache.clear();
    try {
      const r = await h.run(load({ path: 'clip.mp4' }));
      expect(r.error).toMatchObject({ code: 'FFMPEG_MISSING', nodeId: 'load' });
      expect(r.error!.message).toMatch(/clip\.mp4.*GIF or PNG/);
      expect(r.error!.hint).toMatch(/install/i);
    } finally {
      if (saved === undefined) delete process.env[FFMPEG_ENV];
      else process.env[FFMPEG_ENV] = saved;
    }
  });

  it('refuses paths outside the sandbox', async () => {
    await writeSquareGif(h.root, 'outside.gif');
    const r = await h.run(load({ path: '../outside.gif' }));
    expect(r.error).toMatchObject({ code: 'PATH_OUTSIDE_ALLOWED', nodeId: 'load' });
    const nul = await h.run(load({ path: 'clip.gif\u0000.png' }));
    expect(nul.error).toMatchObject({ code: 'PATH_INVALID' });
  });

  it('re-runs when a frame is added to a PNG folder', async () => {
    await loaded({ path: 'frames' });
    const cached = await h.run(load({ path: 'frames' }));
    expect(cached.events.some((e) => e.type === 'node:cached' && e.nodeId === 'load')).toBe(true);
    await writeFile(join(h.inputs, 'frames', 'f11.png'), encodePng(squareFrame(11, 16, 16)));
    expect((await loaded({ path: 'frames' })).dims[2]).toBe(12);
  });

  it('leaks no tensors', () => expectNoLeaks(h));
});
