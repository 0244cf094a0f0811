// The model nodes end to end on the shipped pack (models/kinegraph-tiny), at few steps to stay quick.
import { cp, mkdtemp, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { captured, from, harness, maxAbsDiff, runError } from '../../test-support/lumiere-harness.js';
import { lumiereNodes } from './index.js';
import { windowStarts } from './spatial-super-res.node.js';

const h = await harness(lumiereNodes);
afterAll(() => h.close());

const pack = { pack: { type: 'kinegraph/load-model-pack', version: 1 } };
const prompt = (text: string) => ({
  prompt: { type: 'kinegraph/text-encode', version: 1, params: { text }, inputs: { model: from('pack', 'model') } },
});
const sample = (params: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'kinegraph/stunet-sample',
  version: 1,
  params: { steps: 2, previewEvery: 0, ...params },
  inputs: { model: from('pack', 'model'), positive: from('prompt', 'embedding'), ...extra },
});
const captureVideo = (node: string, part = 'tensor') => ({
  type: 'test/capture',
  version: 1,
  params: { part },
  inputs: { video: from(node, 'video') },
});

describe('LoadModelPack', () => {
  it('reports a missing pack, a missing file and a corrupt file by name', async () => {
    let events = await h.run({
      pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'no-such-pack' } },
    });
    expect(runError(events)).toMatchObject({ code: 'MODEL_PACK_NOT_FOUND', nodeId: 'pack' });
    expect(runError(events)!.hint).toContain('kinegraph-tiny');

    const shipped = fileURLToPath(new URL('../../../../../models/kinegraph-tiny', import.meta.url));
    const folder = await mkdtemp(join(tmpdir(), 'kg-packs-'));
    await cp(shipped, join(folder, 'broken'), { recursive: true });
    await truncate(join(folder, 'broken', 'ssr.onnx'), 1000);
    process.env.KINEGRAPH_MODELS = folder;
    try {
      events = await h.run({ pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'broken' } } });
      expect(runError(events)).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'pack' });
      expect(runError(events)!.message).toContain('ssr.onnx');
      // Without the checksum check, ONNX Runtime's own refusal is still reported with the file's name: by
      // the node that first needs the super-resolution model (the pack loads it on demand)...
      const unchecked = {
        pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'broken', verify: false } },
      };
      events = await h.run(unchecked);
      expect(events.at(-1)?.type).toBe('run:done');
      events = await h.run({
        ...unchecked,
        ...prompt('a red circle'),
        base: sample({}),
        sr: {
          type: 'kinegraph/spatial-super-res',
          version: 1,
          params: { steps: 1, previewEvery: 0 },
          inputs: { model: from('pack', 'model'), video: from('base', 'video') },
        },
      });
      expect(runError(events)).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'sr' });
      expect(runError(events)!.message).toContain('ssr.onnx');
      // ...as for the STUNet, which the sampler loads with its update step appended...
      await truncate(join(folder, 'broken', 'stunet.onnx'), 1000);
      events = await h.run({ ...unchecked, ...prompt('a red circle'), base: sample({}) });
      expect(runError(events)).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'base' });
      expect(runError(events)!.message).toContain('stunet.onnx');
      // ...and by the pack itself for the text encoder, which it always loads.
      await truncate(join(folder, 'broken', 'text_encoder.onnx'), 1000);
      events = await h.run(unchecked);
      expect(runError(events)).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'pack' });
      expect(runError(events)!.message).toContain('text_encoder.onnx');
      await writeFile(join(folder, 'broken', 'manifest.json'), '{"name": 1}');
      events = await h.run({ pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'broken' } } });
      expect(runError(events)).toMatchObject({ code: 'MANIFEST_INVALID' });
    } finally {
      delete process.env.KINEGRAPH_MODELS;
    }
  });
});

describe('TextEncode', () => {
  it('warns about words outside the vocabulary instead of dropping them', async () => {
    const events = await h.run({
      ...pack,
      ...prompt('a red circle moving zigzag'),
      cap: { type: 'test/capture', version: 1, inputs: { embedding: from('prompt', 'embedding') } },
    });
    const warning = events.find((e) => e.type === 'node:warning');
    expect(warning).toMatchObject({ nodeId: 'prompt', code: 'WORDS_OUT_OF_VOCABULARY' });
    expect(warning?.type === 'node:warning' && warning.message).toContain('"zigzag"');
    expect(captured.get('cap')!.dims).toEqual([1, 16, 64]);
  });
});

describe('STUNetSample', () => {
  it('gives the same video for the same seed and a different one for another seed', async () => {
    await h.run({
      ...pack,
      ...prompt('a blue square moving right on a gray background'),
      a: sample({ seed: 5 }),
      b: sample({ seed: 5 }),
      c: sample({ seed: 6 }),
      ca: captureVideo('a'),
      cb: captureVideo('b'),
      cc: captureVideo('c'),
    });
    const [a, b, c] = ['ca', 'cb', 'cc'].map((k) => captured.get(k)!);
    expect(a!.dims).toEqual([1, 3, 16, 32, 32]);
    expect(maxAbsDiff(a!.data, b!.data)).toBe(0);
    expect(maxAbsDiff(a!.data, c!.data)).toBeGreaterThan(0.01);
  });

  it('streams per-step progress and previews', async () => {
    const events = await h.run({ ...pack, ...prompt('a red circle'), s: sample({ steps: 4, previewEvery: 2 }) });
    const progress = events.filter((e) => e.type === 'node:progress' && e.nodeId === 's');
    expect(progress.length).toBeGreaterThanOrEqual(4);
    const previews = progress.filter((e) => e.type === 'node:progress' && e.preview);
    expect(previews.length).toBe(2);
    const preview = previews[0]!.type === 'node:progress' ? previews[0]!.preview! : undefined;
    expect(preview!.mime).toMatch(/^image\//);
    expect(preview!.data.length).toBeGreaterThan(50);
    // A host that shows none (the CLI): the same progress, no previews.
    const quiet = (
      await h.run({ ...pack, ...prompt('a red circle'), s: sample({ steps: 4, previewEvery: 2 }) }, { previews: false })
    ).filter((e) => e.type === 'node:progress' && e.nodeId === 's');
    expect(quiet.length).toBeGreaterThanOrEqual(4);
    expect(quiet.filter((e) => e.type === 'node:progress' && e.preview)).toEqual([]);
  });

  it('video-to-video: a low denoise stays close to the input, a full one does not', async () => {
    await h.run({
      ...pack,
      ...prompt('a green circle moving up on a black background'),
      src: sample({ seed: 1, steps: 3 }),
      low: sample({ seed: 2, steps: 10, denoise: 0.2 }, { init: from('src', 'video') }),
      full: sample({ seed: 2, steps: 10, denoise: 1 }, { init: from('src', 'video') }),
      c0: captureVideo('src'),
      c1: captureVideo('low'),
      c2: captureVideo('full'),
    });
    const src = captured.get('c0')!.data;
    const mean = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
    expect(mean(captured.get('c1')!.data, src)).toBeLessThan(mean(captured.get('c2')!.data, src));
  });

  it('refuses conditioning of the wrong shape with a clear error', async () => {
    const events = await h.run({
      ...pack,
      ...prompt('a red circle'),
      sr: {
        type: 'kinegraph/spatial-super-res',
        version: 1,
        params: { steps: 1, previewEvery: 0 },
        inputs: { model: from('pack', 'model'), video: from('base', 'video') },
      },
      base: sample({}),
      bad: sample({ denoise: 0.5 }, { init: from('sr', 'video') }),
    });
    expect(runError(events)).toMatchObject({ code: 'SHAPE_MISMATCH', nodeId: 'bad' });
  });
});

describe('conditioning nodes', () => {
  it('image-to-video keeps the image as frame 0; inpaint keeps the outside; cinemagraph holds the outside still', async () => {
    await h.run({
      ...pack,
      ...prompt('a yellow triangle moving left on a black background'),
      img: {
        type: 'kinegraph/text-to-image',
        version: 1,
        params: { steps: 2, previewEvery: 0 },
        inputs: { model: from('pack', 'model'), positive: from('prompt', 'embedding') },
      },
      cond: {
        type: 'kinegraph/image-condition',
        version: 1,
        inputs: { model: from('pack', 'model'), image: from('img', 'image') },
      },
      i2v: sample({}, { conditioning: from('cond', 'conditioning') }),
      capImg: { type: 'test/capture', version: 1, inputs: { image: from('img', 'image') } },
      capI2v: captureVideo('i2v'),
      capMask: {
        type: 'test/capture',
        version: 1,
        params: { part: 'mask' },
        inputs: { conditioning: from('cond', 'conditioning') },
      },
    });
    const image = captured.get('capImg')!.data;
    const video = captured.get('capI2v')!;
    const plane = 32 * 32;
    for (let c = 0; c < 3; c++) {
      const frame0 = video.data.subarray(c * 16 * plane, c * 16 * plane + plane);
      expect(maxAbsDiff(frame0, image.subarray(c * plane, (c + 1) * plane))).toBeLessThan(1e-5);
    }
    const keep = captured.get('capMask')!;
    expect(keep.dims).toEqual([1, 1, 16, 32, 32]);
    expect(keep.data.subarray(0, plane).every((v) => v === 1)).toBe(true);
    expect(keep.data.subarray(plane).every((v) => v === 0)).toBe(true);
  });

  it('inpaint keeps everything outside the mask; cinemagraph holds it still; one source is required', async () => {
    await h.run({
      ...pack,
      ...prompt('a cyan circle moving up on a navy background'),
      src: sample({ seed: 3 }),
      mask: { type: 'test/rect-mask', version: 1 },
      inp: {
        type: 'kinegraph/mask-inpaint',
        version: 1,
        params: { mode: 'inpaint' },
        inputs: { model: from('pack', 'model'), mask: from('mask', 'mask'), video: from('src', 'video') },
      },
      cin: {
        type: 'kinegraph/mask-inpaint',
        version: 1,
        params: { mode: 'cinemagraph' },
        inputs: { model: from('pack', 'model'), mask: from('mask', 'mask'), video: from('src', 'video') },
      },
      outInp: sample({ seed: 4 }, { conditioning: from('inp', 'conditioning') }),
      outCin: sample({ seed: 4 }, { conditioning: from('cin', 'conditioning') }),
      c0: captureVideo('src'),
      c1: captureVideo('outInp'),
      c2: captureVideo('outCin'),
    });
    const src = captured.get('c0')!.data;
    const inpainted = captured.get('c1')!.data;
    const cinemagraph = captured.get('c2')!.data;
    const plane = 32 * 32;
    const inside = (i: number) => {
      const p = i % plane;
      const [y, x] = [Math.floor(p / 32), p % 32];
      return y >= 8 && y < 24 && x >= 8 && x < 24;
    };
    let outsideDiff = 0;
    let insideDiff = 0;
    let stillDiff = 0;
    for (let i = 0; i < src.length; i++) {
      if (inside(i)) insideDiff = Math.max(insideDiff, Math.abs(inpainted[i]! - src[i]!));
      else {
        outsideDiff = Math.max(outsideDiff, Math.abs(inpainted[i]! - src[i]!));
        // Cinemagraph: outside the region every frame equals the source's first frame.
        const c = Math.floor(i / (16 * plane));
        const first = src[c * 16 * plane + (i % plane)]!;
        stillDiff = Math.max(stillDiff, Math.abs(cinemagraph[i]! - first));
      }
    }
    expect(outsideDiff).toBeLessThan(1e-5);
    expect(stillDiff).toBeLessThan(1e-5);
    expect(insideDiff).toBeGreaterThan(0.01); // the region was regenerated

    const none = await h.run({
      ...pack,
      mask: { type: 'test/rect-mask', version: 1 },
      m: {
        type: 'kinegraph/mask-inpaint',
        version: 1,
        inputs: { model: from('pack', 'model'), mask: from('mask', 'mask') },
      },
    });
    expect(runError(none)).toMatchObject({ code: 'INPUT_CHOICE', nodeId: 'm' });
  });
});

describe('StyleAdapter', () => {
  it('interpolates STUNet weights: alpha 0 is the base model, alpha 1 differs; unknown styles list the valid ones', async () => {
    // A synthetic style: the base STUNet's conv weights shifted, written as safetensors like a pack style.
    const { readOnnxInitializers } = await import('@kinegraph/core/sdk');
    const { readFile } = await import('node:fs/promises');
    const stunet = fileURLToPath(new URL('../../../../../models/kinegraph-tiny/stunet.onnx', import.meta.url));
    const base = readOnnxInitializers(new Uint8Array(await readFile(stunet)));
    const names = Object.keys(base)
      .filter((n) => base[n]!.dims.length === 4)
      .slice(0, 6);
    const header: Record<string, unknown> = {};
    const chunks: Float32Array[] = [];
    let offset = 0;
    for (const name of names) {
      const styled = base[name]!.data.map((v) => v * 1.5 + 0.05);
      header[name] = { dtype: 'F32', shape: base[name]!.dims, data_offsets: [offset, offset + styled.byteLength] };
      offset += styled.byteLength;
      chunks.push(styled);
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const file = new Uint8Array(8 + json.length + offset);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    let at = 8 + json.length;
    for (const c of chunks) {
      file.set(new Uint8Array(c.buffer), at);
      at += c.byteLength;
    }
    await writeFile(join(h.out, 'style.safetensors'), file);
    const styled = (alpha: number, id: string) => ({
      [`st${id}`]: {
        type: 'kinegraph/style-adapter',
        version: 1,
        params: { file: join(h.out, 'style.safetensors'), alpha },
        inputs: { model: from('pack', 'model') },
      },
      [`s${id}`]: {
        type: 'kinegraph/stunet-sample',
        version: 1,
        params: { steps: 2, previewEvery: 0, seed: 9 },
        inputs: { model: from(`st${id}`, 'model'), positive: from('prompt', 'embedding') },
      },
      [`c${id}`]: captureVideo(`s${id}`),
    });
    const events = await h.run({
      ...pack,
      ...prompt('a white square'),
      ...styled(0, 'a'),
      ...styled(1, 'b'),
      base: sample({ seed: 9 }),
      cbase: captureVideo('base'),
    });
    expect(events.at(-1)!.type).toBe('run:done');
    expect(maxAbsDiff(captured.get('ca')!.data, captured.get('cbase')!.data)).toBe(0);
    expect(maxAbsDiff(captured.get('cb')!.data, captured.get('cbase')!.data)).toBeGreaterThan(1e-3);

    const unknown = await h.run({
      ...pack,
      st: {
        type: 'kinegraph/style-adapter',
        version: 1,
        params: { style: 'no-such-style' },
        inputs: { model: from('pack', 'model') },
      },
    });
    expect(runError(unknown)).toMatchObject({ code: 'STYLE_UNKNOWN', nodeId: 'st' });
  });
});

describe('SpatialSuperRes', () => {
  it('covers every frame with overlapping windows flush with the end', () => {
    expect(windowStarts(16, 8, 4)).toEqual([0, 4, 8]);
    expect(windowStarts(18, 8, 4)).toEqual([0, 4, 8, 10]);
    expect(windowStarts(6, 8, 4)).toEqual([0]);
  });

  it('upscales 2x and rejects a stride that would skip frames', async () => {
    const events = await h.run({
      ...pack,
      ...prompt('a red circle'),
      base: sample({}),
      sr: {
        type: 'kinegraph/spatial-super-res',
        version: 1,
        params: { steps: 2, previewEvery: 0 },
        inputs: { model: from('pack', 'model'), video: from('base', 'video') },
      },
      cap: captureVideo('sr'),
      bad: {
        type: 'kinegraph/spatial-super-res',
        version: 1,
        params: { steps: 1, window: 4, stride: 6 },
        inputs: { model: from('pack', 'model'), video: from('base', 'video') },
      },
    });
    expect(runError(events)).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'bad' });
    const ok = await h.run({
      ...pack,
      ...prompt('a red circle'),
      base: sample({}),
      sr: {
        type: 'kinegraph/spatial-super-res',
        version: 1,
        params: { steps: 2, previewEvery: 0 },
        inputs: { model: from('pack', 'model'), video: from('base', 'video') },
      },
      cap: captureVideo('sr'),
    });
    expect(ok.at(-1)!.type).toBe('run:done');
    expect(captured.get('cap')!.dims).toEqual([1, 3, 16, 64, 64]);
    expect((await h.runtime.store()).stats().liveTensors).toBe(0);
  });
});
