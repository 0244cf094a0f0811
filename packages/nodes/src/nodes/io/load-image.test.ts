// LoadImage, LoadMask and SaveImage: decoding by content, resizing on the device, the sandbox, coded
// errors for broken files, and re-running when the input file changes.
import { mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestRuntime } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEmbeddedWorkflow } from '../../media/embedded-workflow.js';
import { FFMPEG_ENV, ffmpegPath, runTool } from '../../media/ffmpeg-tool.js';
import { fromByte } from '../../media/frames.js';
import { decodePng, encodePng } from '../../media/png.js';
import {
  BACKGROUND,
  SQUARE,
  squareFrame,
  squareImage,
  writeSquareGif,
  writeSquarePng,
} from '../../test-support/index.js';
import { ioNodes } from './index.js';

let h: TestRuntime;
beforeAll(async () => {
  h = await createTestRuntime({ nodes: ioNodes });
  await writeSquarePng(h.inputs, 'square.png');
});
afterAll(async () => {
  await h?.close();
});

const load = (params: Record<string, unknown>, type = 'kinegraph/load-image', port = 'image') => ({
  load: { type, version: 1, params },
  out: capture('load', port),
});

describe('LoadImage', () => {
  it('reads a PNG exactly as [1, 3, H, W] in [-1, 1]', async () => {
    const r = await h.run(load({ path: 'square.png' }));
    expect(r.error).toBeUndefined();
    const out = r.tensor('out');
    expect(out.dims).toEqual([1, 3, 32, 32]);
    // Pixel (0, 0) is inside the frame-0 square; (31, 31) is background.
    expect(out.data[0]).toBeCloseTo(fromByte(SQUARE[0]), 6);
    expect(out.data[2 * 1024 + 31 * 32 + 31]).toBeCloseTo(fromByte(BACKGROUND[2]), 6);
  });

  it('resizes on the device, keeping the aspect ratio when only width is given', async () => {
    await writeSquarePng(h.inputs, 'wide.png', 64, 32);
    const r = await h.run(load({ path: 'wide.png', width: 16 }));
    expect(r.error).toBeUndefined();
    expect(r.tensor('out').dims).toEqual([1, 3, 8, 16]);
  });

  it('reads grey, grey+alpha and 16-bit PNGs', async () => {
    const grey = new Uint8Array(4 * 4).fill(200);
    await writeFile(join(h.inputs, 'grey.png'), encodePng({ width: 4, height: 4, data: new Uint8Array(64).fill(200) }));
    const g = decodePng(new Uint8Array(await readFile(join(h.inputs, 'grey.png'))), 'grey.png');
    expect(g.data[0]).toBe(200);
    const { encode } = await import('fast-png');
    const png1 = encode({ width: 4, height: 4, data: grey, channels: 1, depth: 8 });
    expect(Array.from(decodePng(png1, 'g1').data.subarray(0, 4))).toEqual([200, 200, 200, 255]);
    const png2 = encode({ width: 2, height: 1, data: Uint8Array.of(10, 20, 30, 40), channels: 2, depth: 8 });
    expect(Array.from(decodePng(png2, 'g2').data)).toEqual([10, 10, 10, 20, 30, 30, 30, 40]);
    const png16 = encode({ width: 1, height: 1, data: Uint16Array.of(65535, 0, 32896), channels: 3, depth: 16 });
    expect(Array.from(decodePng(png16, 'c16').data)).toEqual([255, 0, 128, 255]);
  });

  it('reads a GIF\u2019s first frame without ffmpeg', async () => {
    await writeSquareGif(h.inputs, 'anim.gif');
    const r = await h.run(load({ path: 'anim.gif' }));
    expect(r.error).toBeUndefined();
    expect(r.tensor('out').dims).toEqual([1, 3, 32, 32]);
  });

  it('reads a JPEG through ffmpeg', async () => {
    const jpeg = join(h.inputs, 'photo.jpg');
    await runTool(ffmpegPath(), ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=24x16', '-frames:v', '1', jpeg], {
      purpose: 'making a fixture',
    });
    const r = await h.run(load({ path: 'photo.jpg' }));
    expect(r.error).toBeUndefined();
    const out = r.tensor('out');
    expect(out.dims).toEqual([1, 3, 16, 24]);
    expect(out.data[0]).toBeGreaterThan(0.8); // red
    expect(out.data[16 * 24]).toBeLessThan(-0.8); // no green
  });

  it('without ffmpeg, a JPEG is FFMPEG_MISSING naming the file and the formats that work', async () => {
    const saved = process.env[FFMPEG_ENV];
    process.env[FFMPEG_ENV] = '/nonexistent/ffmpeg';
    h.runtime.cache.clear(); // else the earlier decode is reused and ffmpeg is not needed
    try {
      const r = await h.run(load({ path: 'photo.jpg' }));
      expect(r.error).toMatchObject({ code: 'FFMPEG_MISSING', nodeId: 'load' });
      expect(r.error!.message).toContain('photo.jpg');
      expect(r.error!.message).toMatch(/PNG or GIF/);
      expect(r.error!.hint).toMatch(/install/i);
    } finally {
      if (saved === undefined) delete process.env[FFMPEG_ENV];
      else process.env[FFMPEG_ENV] = saved;
    }
  });

  it('a .png that is not a PNG, a truncated PNG and an empty file are IMAGE_DECODE_FAILED naming the file', async () => {
    await writeFile(join(h.inputs, 'fake.png'), 'this is text, not a picture');
    const bad = await h.run(load({ path: 'fake.png' }));
    expect(bad.error).toMatchObject({ code: 'IMAGE_DECODE_FAILED', nodeId: 'load' });
    expect(bad.error!.message).toMatch(/fake\.png.*not a PNG/);
    expect(bad.error!.hint).toBeTruthy();

    const whole = encodePng(squareFrame(0, 32, 32));
    await writeFile(join(h.inputs, 'cut.png'), whole.subarray(0, 60));
    const cut = await h.run(load({ path: 'cut.png' }));
    expect(cut.error).toMatchObject({ code: 'IMAGE_DECODE_FAILED', nodeId: 'load' });
    expect(cut.error!.message).toContain('cut.png');

    await writeFile(join(h.inputs, 'empty.png'), '');
    const empty = await h.run(load({ path: 'empty.png' }));
    expect(empty.error).toMatchObject({ code: 'IMAGE_DECODE_FAILED', nodeId: 'load' });
    expect(empty.error!.message).toMatch(/empty\.png.*empty/);
  });

  it('refuses paths outside the allowed folders: ../, absolute, and symlinks out', async () => {
    await writeSquarePng(h.root, 'secret.png');
    const up = await h.run(load({ path: '../secret.png' }));
    expect(up.error).toMatchObject({ code: 'PATH_OUTSIDE_ALLOWED', nodeId: 'load' });
    const abs = await h.run(load({ path: join(h.root, 'secret.png') }));
    expect(abs.error).toMatchObject({ code: 'PATH_OUTSIDE_ALLOWED' });
    await symlink(join(h.root, 'secret.png'), join(h.inputs, 'link.png'));
    const link = await h.run(load({ path: 'link.png' }));
    expect(link.error).toMatchObject({ code: 'PATH_OUTSIDE_ALLOWED' });
    const missing = await h.run(load({ path: 'nope.png' }));
    expect(missing.error).toMatchObject({ code: 'FILE_NOT_FOUND', nodeId: 'load' });
  });

  it('re-runs when the file changes (fingerprint) and is cached when it does not', async () => {
    const path = await writeSquarePng(h.inputs, 'edit.png');
    const first = await h.run(load({ path: 'edit.png' }));
    expect(first.events.some((e) => e.type === 'node:start' && e.nodeId === 'load')).toBe(true);
    const again = await h.run(load({ path: 'edit.png' }));
    expect(again.events.some((e) => e.type === 'node:cached' && e.nodeId === 'load')).toBe(true);
    await writeSquarePng(h.inputs, 'edit.png', 32, 32, 3);
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    const edited = await h.run(load({ path: 'edit.png' }));
    expect(edited.events.some((e) => e.type === 'node:start' && e.nodeId === 'load')).toBe(true);
  });
});

describe('LoadMask', () => {
  it('reads luminance, thresholds and inverts', async () => {
    // Left half white, right half black, 4×2.
    const data = new Uint8Array(4 * 2 * 4);
    for (let i = 0; i < 8; i++) data.set(i % 4 < 2 ? [255, 255, 255, 255] : [0, 0, 0, 255], i * 4);
    await writeFile(join(h.inputs, 'half.png'), encodePng({ width: 4, height: 2, data }));
    const plain = await h.run(load({ path: 'half.png' }, 'kinegraph/load-mask', 'mask'));
    expect(plain.tensor('out').dims).toEqual([1, 1, 2, 4]);
    expect(Array.from(plain.tensor('out').data.subarray(0, 4))).toEqual([1, 1, 0, 0]);
    const inverted = await h.run(load({ path: 'half.png', invert: true }, 'kinegraph/load-mask', 'mask'));
    expect(Array.from(inverted.tensor('out').data.subarray(0, 4))).toEqual([0, 0, 1, 1]);
  });

  it('uses alpha in auto mode when the image has transparency, binarizes, and repeats over frames', async () => {
    const data = new Uint8Array(4 * 4);
    for (const [i, a] of [0, 100, 200, 255].entries()) data.set([255, 255, 255, a], i * 4);
    await writeFile(join(h.inputs, 'alpha.png'), encodePng({ width: 4, height: 1, data }));
    const auto = await h.run(load({ path: 'alpha.png' }, 'kinegraph/load-mask', 'mask'));
    const soft = Array.from(auto.tensor('out').data);
    for (const [i, v] of soft.entries()) expect(v).toBeCloseTo([0, 100, 200, 255][i]! / 255, 5);
    const binary = await h.run(
      load({ path: 'alpha.png', binarize: true, threshold: 0.5, frames: 3 }, 'kinegraph/load-mask', 'mask'),
    );
    const out = binary.tensor('out');
    expect(out.dims).toEqual([1, 1, 3, 1, 4]);
    expect(Array.from(out.data)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
  });

  it('a corrupt mask file is IMAGE_DECODE_FAILED', async () => {
    const r = await h.run(load({ path: 'fake.png' }, 'kinegraph/load-mask', 'mask'));
    expect(r.error).toMatchObject({ code: 'IMAGE_DECODE_FAILED', nodeId: 'load' });
  });
});

describe('SaveImage', () => {
  it('writes a PNG with the workflow in a text chunk, surviving non-Latin prompts', async () => {
    const nodes = {
      img: source('image', squareImage({ width: 16, height: 8 })),
      save: {
        type: 'kinegraph/save-image',
        version: 1,
        params: { filenamePrefix: 'still' },
        inputs: { image: { node: 'img', output: 'image' } },
        ui: { title: '\u6d77\u8fba\u306e\u5915\u713c\u3051 \ud83c\udf05' },
      },
    };
    const r = await h.run(nodes);
    expect(r.error).toBeUndefined();
    const path = r.output('save', 'path') as string;
    const png = decodePng(new Uint8Array(await readFile(path)), path);
    expect([png.width, png.height]).toEqual([16, 8]);
    expect(Buffer.from(png.data).equals(Buffer.from(squareFrame(0, 16, 8).data))).toBe(true);
    const doc = (await readEmbeddedWorkflow(path)) as { nodes: Record<string, { ui?: { title?: string } }> };
    expect(doc.nodes.save!.ui?.title).toBe('\u6d77\u8fba\u306e\u5915\u713c\u3051 \ud83c\udf05');
  });

  it('leaks no tensors', async () => {
    await mkdir(join(h.inputs, 'unused'), { recursive: true });
    await expectNoLeaks(h);
  });
});
