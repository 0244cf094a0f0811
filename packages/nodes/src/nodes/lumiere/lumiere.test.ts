// The model nodes end to end on the shipped pack (models/kinegraph-tiny), at few steps to stay quick.
import { cp, mkdtemp, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MaskValue } from '@kinegraph/core/sdk';
import type { TestValue } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, maxAbsDiff, source } from '@kinegraph/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { lumiereNodes } from './index.js';
import { windowStarts } from './spatial-super-res.node.js';

// No output cache: every run computes everything, and nothing is held between runs.
const h = await createTestRuntime({ nodes: lumiereNodes, cacheBudgetBytes: 0 });
afterAll(() => h.close());

/** Shorthand for an edge. */
const from = (node: string, output: string) => ({ node, output });

/** A rectangle mask [1, 1, 16, 32, 32], 1 inside [8, 24)², made here so these tests need no I/O node. */
function rectMask(): TestValue<MaskValue> {
  const [f, hh, ww] = [16, 32, 32];
  const data = new Float32Array(f * hh * ww);
  for (let t = 0; t < f; t++)
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) data[t * hh * ww + y * ww + x] = 1;
  return { kind: 'mask', tensor: { data, dims: [1, 1, f, hh, ww] } };
}

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
const captureVideo = (node: string) => capture(node, 'video');

describe('LoadModelPack', () => {
  it('reports a missing pack, a missing file and a corrupt file by name', async () => {
    let run = await h.run({
      pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'no-such-pack' } },
    });
    expect(run.error).toMatchObject({ code: 'MODEL_PACK_NOT_FOUND', nodeId: 'pack' });
    expect(run.error!.hint).toContain('kinegraph-tiny');

    const shipped = fileURLToPath(new URL('../../../../../models/kinegraph-tiny', import.meta.url));
    const folder = await mkdtemp(join(tmpdir(), 'kg-packs-'));
    await cp(shipped, join(folder, 'broken'), { recursive: true });
    await truncate(join(folder, 'broken', 'ssr.onnx'), 1000);
    process.env.KINEGRAPH_MODELS = folder;
    try {
      run = await h.run({ pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'broken' } } });
      expect(run.error).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'pack' });
      expect(run.error!.message).toContain('ssr.onnx');
      // Without the checksum check, ONNX Runtime's own refusal is still reported with the file's name: by
      // the node that first needs the super-resolution model (the pack loads it on demand)...
      const unchecked = {
        pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'broken', verify: false } },
      };
      run = await h.run(unchecked);
      expect(run.end.type).toBe('run:done');
      run = await h.run({
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
      expect(run.error).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'sr' });
      expect(run.error!.message).toContain('ssr.onnx');
      // ...as for the STUNet, which the sampler loads with its update step appended...
      await truncate(join(folder, 'broken', 'stunet.onnx'), 1000);
      run = await h.run({ ...unchecked, ...prompt('a red circle'), base: sample({}) });
      expect(run.error).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'base' });
      expect(run.error!.message).toContain('stunet.onnx');
      // ...and by the pack itself for the text encoder, which it always loads.
      await truncate(join(folder, 'broken', 'text_encoder.onnx'), 1000);
      run = await h.run(unchecked);
      expect(run.error).toMatchObject({ code: 'MODEL_FILE_CORRUPT', nodeId: 'pack' });
      expect(run.error!.message).toContain('text_encoder.onnx');
      await writeFile(join(folder, 'broken', 'manifest.json'), '{"name": 1}');
      run = await h.run({ pack: { type: 'kinegraph/load-model-pack', version: 1, params: { pack: 'broken' } } });
      expect(run.error).toMatchObject({ code: 'MANIFEST_INVALID' });
    } finally {
      delete process.env.KINEGRAPH_MODELS;
    }
  });
});

describe('TextEncode', () => {
  it('warns about words outside the vocabulary instead of dropping them', async () => {
    const run = await h.run({
      ...pack,
      ...prompt('a red circle moving zigzag'),
      cap: capture('prompt', 'embedding'),
    });
    const warning = run.events.find((e) => e.type === 'node:warning');
    expect(warning).toMatchObject({ nodeId: 'prompt', code: 'WORDS_OUT_OF_VOCABULARY' });
    expect(warning?.type === 'node:warning' && warning.message).toContain('"zigzag"');
    expect(run.tensor('cap').dims).toEqual([1, 16, 64]);
    expect(run.captured('cap', 'embedding').text).toBe('a red circle moving zigzag');
  });
});

describe('STUNetSample', () => {
  it('gives the same video for the same seed and a different one for another seed', async () => {
    const run = await h.run({
      ...pack,
      ...prompt('a blue square moving right on a gray background'),
      a: sample({ seed: 5 }),
      b: sample({ seed: 5 }),
      c: sample({ seed: 6 }),
      ca: captureVideo('a'),
      cb: captureVideo('b'),
      cc: captureVideo('c'),
    });
    const [a, b, c] = ['ca', 'cb', 'cc'].map((k) => run.tensor(k));
    expect(a!.dims).toEqual([1, 3, 16, 32, 32]);
    expect(maxAbsDiff(a!.data, b!.data)).toBe(0);
    expect(maxAbsDiff(a!.data, c!.data)).toBeGreaterThan(0.01);
  });

  it('streams per-step progress and previews', async () => {
    const { events } = await h.run({ ...pack, ...prompt('a red circle'), s: sample({ steps: 4, previewEvery: 2 }) });
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
    ).events.filter((e) => e.type === 'node:progress' && e.nodeId === 's');
    expect(quiet.length).toBeGreaterThanOrEqual(4);
    expect(quiet.filter((e) => e.type === 'node:progress' && e.preview)).toEqual([]);
  });

  it('video-to-video: a low denoise stays close to the input, a full one does not', async () => {
    const run = await h.run({
      ...pack,
      ...prompt('a green circle moving up on a black background'),
      src: sample({ seed: 1, steps: 3 }),
      low: sample({ seed: 2, steps: 10, denoise: 0.2 }, { init: from('src', 'video') }),
      full: sample({ seed: 2, steps: 10, denoise: 1 }, { init: from('src', 'video') }),
      c0: captureVideo('src'),
      c1: captureVideo('low'),
      c2: captureVideo('full'),
    });
    const src = run.tensor('c0').data;
    const mean = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
    expect(mean(run.tensor('c1').data, src)).toBeLessThan(mean(run.tensor('c2').data, src));
  });

  it('refuses conditioning of the wrong shape with a clear error', async () => {
    const run = await h.run({
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
    expect(run.error).toMatchObject({ code: 'SHAPE_MISMATCH', nodeId: 'bad' });
  });
});

describe('conditioning nodes', () => {
  it('image-to-video keeps the image as frame 0; inpaint keeps the outside; cinemagraph holds the outside still', async () => {
    const run = await h.run({
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
      capImg: capture('img', 'image'),
      capI2v: captureVideo('i2v'),
      capCond: capture('cond', 'conditioning'),
    });
    const image = run.tensor('capImg').data;
    const video = run.tensor('capI2v');
    const plane = 32 * 32;
    for (let c = 0; c < 3; c++) {
      const frame0 = video.data.subarray(c * 16 * plane, c * 16 * plane + plane);
      expect(maxAbsDiff(frame0, image.subarray(c * plane, (c + 1) * plane))).toBeLessThan(1e-5);
    }
    const keep = run.tensor('capCond', 'mask');
    expect(keep.dims).toEqual([1, 1, 16, 32, 32]);
    expect(keep.data.subarray(0, plane).every((v) => v === 1)).toBe(true);
    expect(keep.data.subarray(plane).every((v) => v === 0)).toBe(true);
  });

  it('inpaint keeps everything outside the mask; cinemagraph holds it still; one source is required', async () => {
    const run = await h.run({
      ...pack,
      ...prompt('a cyan circle moving up on a navy background'),
      src: sample({ seed: 3 }),
      mask: source('mask', rectMask()),
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
    const src = run.tensor('c0').data;
    const inpainted = run.tensor('c1').data;
    const cinemagraph = run.tensor('c2').data;
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
      mask: source('mask', rectMask()),
      m: {
        type: 'kinegraph/mask-inpaint',
        version: 1,
        inputs: { model: from('pack', 'model'), mask: from('mask', 'mask') },
      },
    });
    expect(none.error).toMatchObject({ code: 'INPUT_CHOICE', nodeId: 'm' });
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
    await writeFile(join(h.inputs, 'style.safetensors'), file);
    const styled = (alpha: number, id: string) => ({
      [`st${id}`]: {
        type: 'kinegraph/style-adapter',
        version: 1,
        params: { file: join(h.inputs, 'style.safetensors'), alpha },
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
    const run = await h.run({
      ...pack,
      ...prompt('a white square'),
      ...styled(0, 'a'),
      ...styled(1, 'b'),
      base: sample({ seed: 9 }),
      cbase: captureVideo('base'),
    });
    expect(run.end.type).toBe('run:done');
    expect(maxAbsDiff(run.tensor('ca').data, run.tensor('cbase').data)).toBe(0);
    expect(maxAbsDiff(run.tensor('cb').data, run.tensor('cbase').data)).toBeGreaterThan(1e-3);

    const unknown = await h.run({
      ...pack,
      st: {
        type: 'kinegraph/style-adapter',
        version: 1,
        params: { style: 'no-such-style' },
        inputs: { model: from('pack', 'model') },
      },
    });
    expect(unknown.error).toMatchObject({ code: 'STYLE_UNKNOWN', nodeId: 'st' });
  });
});

describe('SpatialSuperRes', () => {
  it('covers every frame with overlapping windows flush with the end', () => {
    expect(windowStarts(16, 8, 4)).toEqual([0, 4, 8]);
    expect(windowStarts(18, 8, 4)).toEqual([0, 4, 8, 10]);
    expect(windowStarts(6, 8, 4)).toEqual([0]);
  });

  it('upscales 2x and rejects a stride that would skip frames', async () => {
    const run = await h.run({
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
    expect(run.error).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'bad' });
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
    expect(ok.end.type).toBe('run:done');
    expect(ok.tensor('cap').dims).toEqual([1, 3, 16, 64, 64]);
    await expectNoLeaks(h);
  });
});
