// MaskRect geometry, MaskFromColor on the device, ResizeVideo dims and values, PreviewVideo's event.
import { readdir } from 'node:fs/promises';
import type { TestRuntime } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framesToTensor } from '../../media/frames.js';
import { decodeGif } from '../../media/gif.js';
import type { SquareClip } from '../../test-support/index.js';
import { squareFrames, squareImage, squareOrigin, squareVideo } from '../../test-support/index.js';
import { ioNodes } from './index.js';
import { rectPlane } from './mask-rect.node.js';

let h: TestRuntime;
beforeAll(async () => {
  h = await createTestRuntime({ nodes: ioNodes });
});
afterAll(async () => {
  await h?.close();
});

const src = (clip: SquareClip = {}) => source('video', squareVideo({ frames: 4, width: 32, height: 32, ...clip }));
const cap = capture;

async function run(nodes: Record<string, unknown>) {
  const r = await h.run(nodes);
  expect(r.error).toBeUndefined();
  return r;
}

describe('MaskRect', () => {
  it('marks exactly the pixels whose centres are inside, for every frame', async () => {
    const r = await run({
      m: {
        type: 'kinegraph/mask-rect',
        version: 1,
        params: { x: 0.25, y: 0.5, width: 0.5, height: 0.25, frames: 3, maskWidth: 16, maskHeight: 8 },
      },
      c: cap('m', 'mask'),
    });
    const out = r.tensor('c');
    expect(out.dims).toEqual([1, 1, 3, 8, 16]);
    for (let f = 0; f < 3; f++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 16; x++) {
          const inside = x >= 4 && x < 12 && y >= 4 && y < 6;
          expect(out.data[f * 128 + y * 16 + x]).toBe(inside ? 1 : 0);
        }
      }
    }
  });

  it('takes batch, frames and size from a connected video, and inverts', async () => {
    const r = await run({
      v: src({ batch: 2, frames: 5, width: 20, height: 10 }),
      m: {
        type: 'kinegraph/mask-rect',
        version: 1,
        params: { x: 0, y: 0, width: 0.5, height: 1, invert: true },
        inputs: { video: { node: 'v', output: 'video' } },
      },
      c: cap('m', 'mask'),
    });
    const out = r.tensor('c');
    expect(out.dims).toEqual([2, 1, 5, 10, 20]);
    expect(out.data[0]).toBe(0);
    expect(out.data[19]).toBe(1);
    expect(out.data[out.data.length - 1]).toBe(1); // last batch item, last frame, bottom-right
    expect(out.data[out.data.length - 20]).toBe(0);
  });

  it('feathers linearly inward from the edge', () => {
    const plane = rectPlane(10, 1, { x: 0, y: 0, width: 1, height: 1, feather: 2, invert: false });
    // Centres 0.5 .. 9.5; distance to the nearest edge (top/bottom at 0.5 caps everything at 0.25).
    const row = rectPlane(10, 10, { x: 0, y: 0, width: 1, height: 1, feather: 2, invert: false }).subarray(50, 60);
    expect(Array.from(row)).toEqual([0.25, 0.75, 1, 1, 1, 1, 1, 1, 0.75, 0.25]);
    expect(plane[0]).toBe(0.25);
  });
});

describe('MaskFromColor', () => {
  it('finds the moving square by its colour, on every frame, and inverts', async () => {
    const r = await run({
      v: src(),
      m: {
        type: 'kinegraph/mask-from-color',
        version: 1,
        params: { color: '#F04020', tolerance: 0.05 },
        inputs: { video: { node: 'v', output: 'video' } },
      },
      c: cap('m', 'mask'),
    });
    const out = r.tensor('c');
    expect(out.dims).toEqual([1, 1, 4, 32, 32]);
    for (let f = 0; f < 4; f++) {
      const { x, y, size } = squareOrigin(f, 32, 32);
      let count = 0;
      for (let i = 0; i < 1024; i++) count += out.data[f * 1024 + i]!;
      expect(count).toBe(size * size);
      expect(out.data[f * 1024 + (y + 1) * 32 + x + 1]).toBe(1);
    }
    const inverted = await run({
      v: src(),
      m: {
        type: 'kinegraph/mask-from-color',
        version: 1,
        params: { color: '#f04020', tolerance: 0.05, invert: true },
        inputs: { video: { node: 'v', output: 'video' } },
      },
      c: cap('m', 'mask'),
    });
    const inv = inverted.tensor('c');
    const { size } = squareOrigin(0, 32, 32);
    expect(inv.data.subarray(0, 1024).reduce((a, b) => a + b, 0)).toBe(1024 - size * size);
  });

  it('ramps with softness and keys images too', async () => {
    // Background (32, 48, 160) is 208/255 ≈ 0.816 from the square colour on red: tolerance 0.7 + softness 0.2 puts it mid-ramp.
    const r = await run({
      i: source('image', squareImage()),
      m: {
        type: 'kinegraph/mask-from-color',
        version: 1,
        params: { color: '#f04020', tolerance: 0.7, softness: 0.2 },
        inputs: { image: { node: 'i', output: 'image' } },
      },
      c: cap('m', 'mask'),
    });
    const out = r.tensor('c');
    expect(out.dims).toEqual([1, 1, 32, 32]);
    expect(out.data[0]).toBe(1);
    expect(out.data[1023]).toBeCloseTo(1 - (208 / 255 - 0.7) / 0.2, 4);
  });

  it('without any input is INVALID_INPUT', async () => {
    const r = await h.run({ m: { type: 'kinegraph/mask-from-color', version: 1, params: {} }, c: cap('m', 'mask') });
    expect(r.error).toMatchObject({ code: 'INVALID_INPUT', nodeId: 'm' });
  });
});

describe('ResizeVideo', () => {
  it('resizes width/height with nearest exactly, keeping fps', async () => {
    const r = await run({
      v: src({ frames: 2, width: 8, height: 8 }),
      r: {
        type: 'kinegraph/resize-video',
        version: 1,
        params: { width: 16, height: 4, mode: 'nearest' },
        inputs: { video: { node: 'v', output: 'video' } },
      },
      c: cap('r', 'video'),
    });
    const out = r.tensor('c');
    expect(out.dims).toEqual([1, 3, 2, 4, 16]);
    expect(r.captured('c', 'video').fps).toBe(10);
    const orig = framesToTensor(squareFrames(2, 8, 8), 8, 8).data;
    // Output (y, x) samples input (2y, x/2) with half-pixel nearest (rounding half down).
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 16; x++)
        expect(out.data[y * 16 + x]).toBe(orig[Math.floor((y + 0.5) * 2 - 0.5 + 0.0001) * 8 + Math.floor(x / 2)]);
  });

  it('resizes frames too (linear), scaling fps to keep the duration, and passes a no-op through', async () => {
    const longer = await run({
      v: src({ frames: 4, width: 8, height: 8 }),
      r: {
        type: 'kinegraph/resize-video',
        version: 1,
        params: { width: 8, height: 0, frames: 8 },
        inputs: { video: { node: 'v', output: 'video' } },
      },
      c: cap('r', 'video'),
    });
    const out = longer.tensor('c');
    expect(out.dims).toEqual([1, 3, 8, 8, 8]);
    expect(longer.captured('c', 'video').fps).toBe(20);
    for (const v of out.data) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
    const r = await run({
      v: src({ frames: 4, width: 8, height: 8 }),
      r: {
        type: 'kinegraph/resize-video',
        version: 1,
        params: { width: 0, height: 0 },
        inputs: { video: { node: 'v', output: 'video' } },
      },
      c: cap('r', 'video'),
    });
    expect(r.error).toBeUndefined();
    expect(r.tensor('c').data).toEqual(framesToTensor(squareFrames(4, 8, 8), 8, 8).data);
  });
});

describe('PreviewVideo', () => {
  it('emits one animated GIF preview, downsized, and writes nothing', async () => {
    const before = await readdir(h.out);
    const r = await run({
      v: src({ frames: 6, width: 64, height: 32 }),
      p: {
        type: 'kinegraph/preview-video',
        version: 1,
        params: { maxSize: 32 },
        inputs: { video: { node: 'v', output: 'video' } },
      },
    });
    const previews = r.events.flatMap((e) =>
      e.type === 'node:progress' && e.nodeId === 'p' && e.preview ? [e.preview] : [],
    );
    expect(previews).toHaveLength(1);
    const preview = previews[0]!;
    expect(preview).toMatchObject({ mime: 'image/gif', width: 32, height: 16 });
    const gif = decodeGif(preview.data, 'preview');
    expect([gif.frames.length, gif.width, gif.height, gif.fps]).toEqual([6, 32, 16, 10]);
    expect(r.files).toEqual([]);
    expect(await readdir(h.out)).toEqual(before);
  });

  it('leaks no tensors', () => expectNoLeaks(h));
});
