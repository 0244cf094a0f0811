// Media helpers without a runtime: tensor ↔ RGBA, GIF comments and decoding, container tag readers,
// embedded-workflow edge cases, output names.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { squareFrames } from '../test-support/synthetic.js';
import { readMatroskaTag, readMp4Comment } from './containers.js';
import { readEmbeddedWorkflow } from './embedded-workflow.js';
import { runTool } from './ffmpeg-tool.js';
import { framesToTensor, fromByte, tensorToFrames, toByte } from './frames.js';
import { decodeGif, encodeGif, readGifComments } from './gif.js';
import { nextOutputStem, safePrefix } from './output-names.js';
import { encodePng } from './png.js';
import { fitWithin } from './preview.js';
import { requestedSize } from './sizes.js';
import { workflowToAscii } from './workflow-text.js';

const scratch = await mkdtemp(join(tmpdir(), 'kg-media-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('tensor ↔ RGBA', () => {
  it('round-trips bytes exactly and clamps out-of-range values', () => {
    for (let b = 0; b < 256; b++) expect(toByte(fromByte(b))).toBe(b);
    expect([toByte(-3), toByte(2), toByte(Number.NaN)]).toEqual([0, 255, 0]);
    const frames = squareFrames(3, 5, 4);
    const { data, dims } = framesToTensor(frames, 5, 4);
    expect(dims).toEqual([1, 3, 3, 4, 5]);
    const back = tensorToFrames(data, dims);
    for (const [i, f] of back.entries()) expect(f.data).toEqual(frames[i]);
  });

  it('gives toByte\u2019s bytes for every value, including halves, clamps, -0 and NaN', () => {
    const edges = [
      -1.5,
      -1,
      -1 - 1e-7,
      -1 + 0.5 / 127.5,
      -1 + 0.49 / 127.5,
      0,
      -0,
      1,
      1 + 1e-6,
      1 - 0.5 / 127.5,
      2,
      Number.NaN,
      Infinity,
      -Infinity,
    ];
    const values = [...edges, ...Array.from({ length: 4000 }, (_, i) => -1.2 + (2.4 * i) / 3999)];
    const pixels = values.length;
    const data = new Float32Array(3 * pixels);
    data.set(values);
    data.set(
      values.map((v) => -v),
      pixels,
    );
    data.set(
      values.map((v) => v / 2),
      2 * pixels,
    );
    const [frame] = tensorToFrames(data, [1, 3, 1, 1, pixels]);
    for (let i = 0; i < pixels; i++) {
      const expected = Array.from(
        Uint8Array.of(toByte(data[i]!), toByte(data[pixels + i]!), toByte(data[2 * pixels + i]!), 255),
      );
      expect(Array.from(frame!.data.subarray(i * 4, i * 4 + 4))).toEqual(expected);
    }
  });

  it('picks a batch item and treats an image as one frame', () => {
    const one = framesToTensor(squareFrames(1, 2, 2), 2, 2, true);
    expect(one.dims).toEqual([1, 3, 2, 2]);
    const two = new Float32Array(24);
    two.set(one.data);
    two.fill(1, 12);
    const frames = tensorToFrames(two, [2, 3, 2, 2], 1);
    expect(Array.from(frames[0]!.data.subarray(0, 4))).toEqual([255, 255, 255, 255]);
    expect(() => tensorToFrames(two, [2, 3, 2, 2], 2)).toThrow(/out of range/);
    expect(() => tensorToFrames(two, [2, 4, 3])).toThrow(/expected/);
  });
});

describe('GIF', () => {
  it('stores a long comment in 255-byte sub-blocks and reads it back; decoders still read the frames', () => {
    const comment = `{"text":"${'x'.repeat(1000)}"}`;
    const gif = encodeGif({ width: 8, height: 8, frames: squareFrames(3, 8, 8), fps: 25 }, comment);
    expect(readGifComments(gif)).toEqual([comment]);
    const clip = decodeGif(gif, 'long.gif');
    expect(clip.frames).toHaveLength(3);
    expect(clip.fps).toBe(25);
    expect(decodeGif(gif, 'long.gif', { step: 2 }).frames).toHaveLength(2);
    expect(decodeGif(gif, 'long.gif', { maxFrames: 1 }).frames).toHaveLength(1);
  });

  it('refuses non-ASCII comments (callers escape them) and names broken files', () => {
    expect(() => encodeGif({ width: 1, height: 1, frames: squareFrames(1, 1, 1), fps: 10 }, 'caf\u00e9')).toThrow(
      /ASCII/,
    );
    expect(() => decodeGif(new Uint8Array([1, 2, 3]), 'bad.gif')).toThrow(/bad\.gif/);
  });
});

describe('embedded workflows', () => {
  const doc = {
    format: 'kinegraph/workflow@1',
    nodes: { p: { type: 'x/y', version: 1, params: { prompt: 'f\u00fcr \u732b \ud83d\udc08' } } },
  };

  it('escapes every non-ASCII character and still parses to the same value', () => {
    const text = workflowToAscii(doc);
    expect(/[\u0080-\uffff]/.test(text)).toBe(false);
    expect(JSON.parse(text)).toEqual(doc);
  });

  it('reads a PNG tEXt, ignores other keys, and rejects a damaged embed', async () => {
    const frame = { width: 1, height: 1, data: Uint8Array.of(1, 2, 3, 255) };
    expect(await readEmbeddedWorkflow(encodePng(frame, { 'kinegraph-workflow': workflowToAscii(doc) }))).toEqual(doc);
    expect(await readEmbeddedWorkflow(encodePng(frame, { Comment: '{"a":1}' }))).toBeUndefined();
    await expect(readEmbeddedWorkflow(encodePng(frame, { 'kinegraph-workflow': '{not json' }))).rejects.toMatchObject({
      code: 'EMBEDDED_WORKFLOW_INVALID',
    });
  });

  it('skips GIF comments that are not JSON objects, and returns undefined for unknown files', async () => {
    const gif = encodeGif({ width: 2, height: 2, frames: squareFrames(1, 2, 2), fps: 10 }, 'made with love');
    expect(await readEmbeddedWorkflow(gif)).toBeUndefined();
    expect(await readEmbeddedWorkflow(new Uint8Array(100))).toBeUndefined();
    expect(await readEmbeddedWorkflow(new Uint8Array(0))).toBeUndefined();
  });

  it('reads MP4 and WebM comment tags written by ffmpeg itself (not only by our encoder)', async () => {
    const meta = join(scratch, 'meta.txt');
    await writeFile(meta, `;FFMETADATA1\ncomment=${JSON.stringify(doc).replace(/[=;#\\]/g, (c) => `\\${c}`)}\n`);
    for (const [ext, codec] of [
      ['mp4', 'libx264'],
      ['webm', 'libvpx-vp9'],
    ] as const) {
      const out = join(scratch, `t.${ext}`);
      await runTool(
        'ffmpeg',
        [
          '-v',
          'error',
          '-y',
          '-f',
          'lavfi',
          '-i',
          'testsrc=size=16x16:rate=5:duration=0.4',
          '-f',
          'ffmetadata',
          '-i',
          meta,
          '-map_metadata',
          '1',
          '-map',
          '0:v',
          '-c:v',
          codec,
          '-pix_fmt',
          'yuv420p',
          out,
        ],
        { purpose: 'making a fixture' },
      );
      expect(await readEmbeddedWorkflow(out)).toEqual(doc);
    }
    expect(readMp4Comment(new Uint8Array(16))).toBeUndefined();
    expect(readMatroskaTag(new Uint8Array(16), 'COMMENT')).toBeUndefined();
  });
});

describe('running ffmpeg', () => {
  it('kills the process on abort and rejects at once', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const work = runTool(
      'ffmpeg',
      ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=duration=60', '-f', 'null', '-'],
      { purpose: 'a long job', signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('stop')), 100);
    await expect(work).rejects.toThrow('stop');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('reports a failing run as FFMPEG_FAILED with its stderr, and a missing binary as FFMPEG_MISSING', async () => {
    await expect(
      runTool('ffmpeg', ['-v', 'error', '-i', join(scratch, 'missing.mp4'), '-f', 'null', '-'], {
        purpose: 'decoding',
      }),
    ).rejects.toMatchObject({ code: 'FFMPEG_FAILED', message: expect.stringContaining('missing.mp4') });
    await expect(runTool('/nonexistent/ffmpeg', [], { purpose: 'encoding MP4' })).rejects.toMatchObject({
      code: 'FFMPEG_MISSING',
      hint: expect.stringContaining('GIF'),
    });
  });
});

describe('names and sizes', () => {
  it('makes prefixes safe and numbers stems past existing files and earlier reservations', async () => {
    expect(safePrefix('../../etc/passwd')).toBe('etc_passwd');
    expect(safePrefix('...')).toBe('kinegraph');
    const folder = join(scratch, 'names');
    await rm(folder, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(folder));
    await writeFile(join(folder, 'clip_00007.mp4'), '');
    await writeFile(join(folder, 'clipx_00099.mp4'), '');
    expect(await nextOutputStem(folder, 'clip')).toBe('clip_00008');
    expect(await nextOutputStem(folder, 'clip')).toBe('clip_00009'); // reserved, not yet written
  });

  it('keeps the aspect ratio when one side is 0 and never upscales previews', () => {
    expect(requestedSize(32, 64, 16, 0)).toEqual([8, 16]);
    expect(requestedSize(32, 64, 0, 0)).toEqual([32, 64]);
    expect(requestedSize(32, 64, 0, 64)).toEqual([64, 128]);
    expect(fitWithin(100, 400, 128)).toEqual([32, 128]);
    expect(fitWithin(10, 20, 128)).toEqual([10, 20]);
  });
});
