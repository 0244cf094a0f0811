// VideoEncode round trips: GIF and PNG frames in pure JS, MP4/WebM through ffmpeg (checked with ffprobe),
// the workflow recovered from each file, and a clear FFMPEG_MISSING error without ffmpeg.
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { TestRuntime } from '@kinegraph/core/testing';
import { createTestRuntime, expectNoLeaks, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEmbeddedWorkflow } from '../../media/embedded-workflow.js';
import { FFMPEG_ENV } from '../../media/ffmpeg-tool.js';
import { decodeVideoFile, probeMedia } from '../../media/ffmpeg-video.js';
import { decodeGif } from '../../media/gif.js';
import { decodePng } from '../../media/png.js';
import type { SquareClip } from '../../test-support/index.js';
import { meanAbsDiff, squareFrames, squareVideo } from '../../test-support/index.js';
import { ioNodes } from './index.js';

let h: TestRuntime;
beforeAll(async () => {
  h = await createTestRuntime({ nodes: ioNodes });
});
afterAll(async () => {
  await h?.close();
});

const FRAMES = 8;
const SIZE = 32;
const expected = squareFrames(FRAMES, SIZE, SIZE);

function graph(encode: Record<string, unknown>, clip: SquareClip = {}) {
  return {
    src: source('video', squareVideo({ frames: FRAMES, width: SIZE, height: SIZE, fps: 10, ...clip })),
    enc: {
      type: 'kinegraph/video-encode',
      version: 1,
      params: { filenamePrefix: 'clip', ...encode },
      inputs: { video: { node: 'src', output: 'video' } },
    },
  };
}

async function encode(params: Record<string, unknown>, clip?: SquareClip) {
  const result = await h.run(graph(params, clip));
  expect(result.error).toBeUndefined();
  const path = result.output('enc', 'path') as string;
  expect(typeof path).toBe('string');
  return { path, result, workflow: result.workflow };
}

describe('VideoEncode', () => {
  it('writes a GIF whose frames, size, colours, fps and embedded workflow come back', async () => {
    const { path, workflow: doc } = await encode({ format: 'gif' });
    expect(basename(path)).toMatch(/^clip_\d{5}\.gif$/);
    const bytes = new Uint8Array(await readFile(path));
    const clip = decodeGif(bytes, path);
    expect([clip.frames.length, clip.width, clip.height, clip.fps]).toEqual([FRAMES, SIZE, SIZE, 10]);
    for (const [i, f] of clip.frames.entries()) expect(meanAbsDiff(f, expected[i]!)).toBeLessThan(4);
    expect(await readEmbeddedWorkflow(bytes)).toMatchObject(doc);
    expect(await readEmbeddedWorkflow(path)).toMatchObject(doc);
  });

  it('writes PNG frames losslessly; the first carries the workflow and fps', async () => {
    const { path, result, workflow: doc } = await encode({ format: 'png', filenamePrefix: 'frames' });
    expect(basename(path)).toMatch(/^frames_\d{5}_0000\.png$/);
    expect(result.files).toHaveLength(FRAMES);
    const stem = basename(path).replace(/_0000\.png$/, '');
    const names = (await readdir(h.out)).filter((n) => n.startsWith(stem)).sort();
    expect(names).toHaveLength(FRAMES);
    for (const [i, name] of names.entries()) {
      const png = decodePng(new Uint8Array(await readFile(`${h.out}/${name}`)), name);
      expect(Buffer.from(png.data).equals(Buffer.from(expected[i]!))).toBe(true);
    }
    expect(await readEmbeddedWorkflow(path)).toMatchObject(doc);
    expect(decodePng(new Uint8Array(await readFile(path)), path).text['kinegraph-fps']).toBe('10');
  });

  it('writes H.264 yuv420p MP4 with the workflow in its comment tag', async () => {
    const { path, workflow: doc } = await encode({ format: 'mp4' });
    const probe = await probeMedia(path);
    expect(probe).toMatchObject({
      codec: 'h264',
      pixFmt: 'yuv420p',
      width: SIZE,
      height: SIZE,
      frames: FRAMES,
      fps: 10,
    });
    expect(probe.duration).toBeCloseTo(FRAMES / 10, 1);
    expect(JSON.parse(probe.tags.comment!)).toMatchObject(doc);
    expect(await readEmbeddedWorkflow(path)).toMatchObject(doc);
    const back = await decodeVideoFile(path);
    expect(back.frames).toHaveLength(FRAMES);
    for (const [i, f] of back.frames.entries()) expect(meanAbsDiff(f, expected[i]!)).toBeLessThan(12);
  });

  it('writes VP9 yuv420p WebM with the workflow in its comment tag', async () => {
    const { path, workflow: doc } = await encode({ format: 'webm', crf: 30 });
    const probe = await probeMedia(path);
    expect(probe).toMatchObject({ codec: 'vp9', pixFmt: 'yuv420p', width: SIZE, height: SIZE });
    expect(probe.duration).toBeCloseTo(FRAMES / 10, 1);
    expect(JSON.parse(probe.tags.comment!)).toMatchObject(doc);
    expect(await readEmbeddedWorkflow(path)).toMatchObject(doc);
    expect((await decodeVideoFile(path)).frames).toHaveLength(FRAMES);
  });

  it('pads odd sizes for 4:2:0 and honours an fps override', async () => {
    const { path } = await encode({ format: 'mp4', fps: 25 }, { width: 33, height: 17 });
    const probe = await probeMedia(path);
    expect([probe.width, probe.height, probe.fps]).toEqual([34, 18, 25]);
  });

  it('numbers files past existing ones and writes one file per batch item', async () => {
    const first = await encode({ format: 'gif', filenamePrefix: 'batch' }, { batch: 2 });
    expect(first.result.files.map((f) => basename(f))).toEqual(['batch_00001.gif', 'batch_00002.gif']);
    const second = await encode({ format: 'gif', filenamePrefix: 'batch' });
    expect(basename(second.path)).toBe('batch_00003.gif');
    const [a, b] = await Promise.all(
      first.result.files.map(async (f) => decodeGif(new Uint8Array(await readFile(f)), f)),
    );
    expect(meanAbsDiff(a!.frames[0]!, b!.frames[0]!)).toBeGreaterThan(20); // the second item is darker
  });

  it('leaves the workflow out when embedWorkflow is false', async () => {
    const { path } = await encode({ format: 'gif', embedWorkflow: false });
    expect(await readEmbeddedWorkflow(path)).toBeUndefined();
  });

  it('without ffmpeg, MP4 is FFMPEG_MISSING with install advice, and GIF still works', async () => {
    const saved = process.env[FFMPEG_ENV];
    process.env[FFMPEG_ENV] = '/nonexistent/ffmpeg';
    try {
      const before = await readdir(h.out);
      const failed = await h.run(graph({ format: 'mp4' }));
      expect(failed.error).toMatchObject({ code: 'FFMPEG_MISSING', nodeId: 'enc' });
      expect(failed.error!.message).toContain('MP4');
      expect(failed.error!.hint).toMatch(/apt install ffmpeg/);
      expect(failed.error!.hint).toMatch(/GIF/);
      expect((await readdir(h.out)).sort()).toEqual(before.sort()); // nothing half-written
      const { path } = await encode({ format: 'gif' });
      expect(decodeGif(new Uint8Array(await readFile(path)), path).frames).toHaveLength(FRAMES);
    } finally {
      if (saved === undefined) delete process.env[FFMPEG_ENV];
      else process.env[FFMPEG_ENV] = saved;
    }
  });

  it('rejects an unsafe filename prefix and an out-of-range H.264 crf before writing', async () => {
    await expect(h.run(graph({ format: 'gif', filenamePrefix: '../escape' }))).rejects.toMatchObject({
      code: 'WORKFLOW_INVALID',
    });
    const crf = await h.run(graph({ format: 'mp4', crf: 60 }));
    expect(crf.error).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'enc' });
  });

  describe('resizing while saving (width/height)', () => {
    // The same clip resized by a Resize Video node first: what every resize path must reproduce.
    async function viaResizeNode(params: Record<string, unknown>, resize: Record<string, unknown>) {
      const nodes = {
        ...graph(params),
        big: {
          type: 'kinegraph/resize-video',
          version: 1,
          params: { width: 0, height: 0, ...resize },
          inputs: { video: { node: 'src', output: 'video' } },
        },
      };
      nodes.enc = { ...nodes.enc, inputs: { video: { node: 'big', output: 'video' } } };
      const result = await h.run(nodes);
      expect(result.error).toBeUndefined();
      return result.output('enc', 'path') as string;
    }

    it('MP4, whole-number nearest upscale in ffmpeg: the same frames as Resize Video, blocks intact', async () => {
      const { path } = await encode({ format: 'mp4', crf: 0, width: 256, height: 0, mode: 'nearest' });
      const probe = await probeMedia(path);
      expect([probe.width, probe.height, probe.frames]).toEqual([256, 256, FRAMES]);
      const reference = await viaResizeNode({ format: 'mp4', crf: 0 }, { width: 256, height: 256, mode: 'nearest' });
      const [mine, theirs] = await Promise.all([decodeVideoFile(path), decodeVideoFile(reference)]);
      for (const [i, f] of mine.frames.entries()) expect(meanAbsDiff(f, theirs.frames[i]!)).toBeLessThan(0.5);
      // Every 8x8 block is one source pixel; a smoothing scaler blends the square's edges, and fails this.
      const sharp = nearestUpscale(expected[3]!, SIZE, 8);
      expect(shareOff(mine.frames[3]!, sharp)).toBe(0);
      const smooth = await decodeVideoFile((await encode({ format: 'mp4', crf: 0, width: 256, mode: 'linear' })).path);
      expect(shareOff(smooth.frames[3]!, sharp)).toBeGreaterThan(0.005);
    });

    it('GIF and non-whole factors resize on the device, exactly as Resize Video', async () => {
      const { path } = await encode({ format: 'gif', width: 48, height: 40, mode: 'linear' });
      const reference = await viaResizeNode({ format: 'gif' }, { width: 48, height: 40, mode: 'linear' });
      const [mine, theirs] = await Promise.all(
        [path, reference].map(async (p) => decodeGif(new Uint8Array(await readFile(p)), p)),
      );
      expect([mine!.width, mine!.height, mine!.frames.length]).toEqual([48, 40, FRAMES]);
      for (const [i, f] of mine!.frames.entries())
        expect(Buffer.from(f).equals(Buffer.from(theirs!.frames[i]!))).toBe(true);
      const odd = await encode({ format: 'mp4', width: 48, mode: 'nearest' });
      expect(await probeMedia(odd.path)).toMatchObject({ width: 48, height: 48 });
    });

    it('PNG frames keep the exact resized pixels', async () => {
      const { path } = await encode({ format: 'png', filenamePrefix: 'big', height: 64, mode: 'nearest' });
      const png = decodePng(new Uint8Array(await readFile(path)), path);
      expect([png.width, png.height]).toEqual([64, 64]);
      expect(Buffer.from(png.data).equals(Buffer.from(nearestUpscale(expected[0]!, SIZE, 2)))).toBe(true);
    });
  });

  it('leaks no tensors', () => expectNoLeaks(h));
});

/** A square RGBA frame with each pixel repeated into a factor x factor block. */
function nearestUpscale(frame: Uint8Array, size: number, factor: number): Uint8Array {
  const big = size * factor;
  const out = new Uint8Array(big * big * 4);
  for (let y = 0; y < big; y++) {
    for (let x = 0; x < big; x++) {
      const from = (Math.floor(y / factor) * size + Math.floor(x / factor)) * 4;
      out.set(frame.subarray(from, from + 4), (y * big + x) * 4);
    }
  }
  return out;
}

/** Share of RGB samples that differ by more than 24 levels: codec rounding stays under it, blended edges do not. */
function shareOff(a: Uint8Array, b: Uint8Array): number {
  let off = 0;
  for (let i = 0; i < a.length; i++) if (i % 4 !== 3 && Math.abs(a[i]! - b[i]!) > 24) off++;
  return off / ((a.length / 4) * 3);
}
