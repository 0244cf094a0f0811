import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPack } from '../../packages/nodes/src/model/pack.js';
import { readHeldOutManifest } from './captions.js';
import {
  type ConditionedSample,
  evaluationPrompts,
  FULL_OPTIONS,
  isPackPath,
  SMOKE_OPTIONS,
  snapshotPack,
  summarize,
  summarizeConditioned,
  type T2vSample,
  targets,
  withInterval,
} from './evaluate.js';

/** A held-out text-to-video outcome: every attribute right unless named, 14 of 16 frames the asked shape. */
function sample(wrong: Array<'colour' | 'motion' | 'shape'> = [], frames = { right: 14, judged: 16 }): T2vSample {
  const correct = { colour: true, motion: true, shape: true, background: true };
  for (const k of wrong) correct[k] = false;
  return {
    split: 'held-out',
    caption: 'a yellow triangle moving up on a black background',
    seed: 1000,
    expected: { shape: 'triangle', colour: 'yellow', motion: 'up', background: 'black' },
    got: {
      shape: correct.shape ? 'triangle' : 'circle',
      colour: correct.colour ? 'yellow' : 'white',
      motion: correct.motion ? 'up' : 'down',
      background: 'black',
    },
    correct,
    temporalConsistency: 1,
    backgroundFlicker: 0.005,
    shapeFrames: frames,
    edge: { iouSum: 0.8 * frames.judged, judged: frames.judged },
    sampleMs: 1,
  };
}

function conditioned(i2v: number, inpaint: number, cinemagraph: number): ConditionedSample {
  return {
    caption: 'c',
    seed: 1000,
    i2vFirstFramePsnr: i2v,
    inpaintOutsidePsnr: inpaint,
    cinemagraphStaticDelta: cinemagraph,
    cinemagraphAnimatedDelta: 0.02,
    sourceAnimatedDelta: 0.01,
    sampleMs: 1,
  };
}

describe('targets are judged on the 95% interval, not the point estimate', () => {
  const goodConditioning = summarizeConditioned(
    Array.from({ length: 12 }, (_, i) => conditioned(34 + (i % 3), 38 + (i % 2), 0.009 + 0.001 * (i % 3))),
  );

  it('a 98% colour accuracy over 108 clips is not yet "≥ 95%"; a perfect one is', () => {
    const nearly = summarize([...Array.from({ length: 106 }, () => sample()), sample(['colour']), sample(['colour'])]);
    expect(nearly.colour).toBeCloseTo(106 / 108, 12);
    const row = (s: ReturnType<typeof summarize>) =>
      targets(s, goodConditioning).find((t) => t.metric.includes('colour accuracy'))!;
    expect(row(nearly)).toMatchObject({ met: false });
    expect(row(nearly).lo).toBeLessThan(0.95);
    expect(row(summarize(Array.from({ length: 108 }, () => sample())))).toMatchObject({ met: true, value: 1 });
  });

  it('counts all three only when colour, motion and shape are right in the same clip', () => {
    const s = summarize([sample(), sample(['motion']), sample(['shape']), sample()]);
    expect(s.allThree).toBe(0.5);
    expect(s.motion).toBe(0.75);
  });

  it('pools shape constancy over frames and holds it to ≥ 90% by its lower bound', () => {
    const steady = summarize(Array.from({ length: 100 }, () => sample([], { right: 16, judged: 16 })));
    expect(steady.shapeConstancy).toBe(1);
    const drifting = summarize(
      Array.from({ length: 100 }, (_, i) => sample([], { right: i % 2 ? 16 : 13, judged: 16 })),
    );
    expect(drifting.shapeConstancy).toBeCloseTo(0.90625, 10);
    const row = (s: ReturnType<typeof summarize>) =>
      targets(s, goodConditioning).find((t) => t.metric.includes('constancy'))!;
    expect(row(steady).met).toBe(true);
    expect(row(drifting).met).toBe(false); // 90.6% observed, lower bound below 90%
    expect(steady.edgeSharpness).toBeCloseTo(0.8, 12);
  });

  it('uses the upper bound for the cinemagraph ("at most") and the lower for PSNR ("at least")', () => {
    const held = summarize(Array.from({ length: 108 }, () => sample()));
    const ok = targets(held, goodConditioning);
    expect(ok.filter((t) => /PSNR|cinemagraph/.test(t.metric)).every((t) => t.met)).toBe(true);
    const noisy = summarizeConditioned(
      Array.from({ length: 12 }, (_, i) => conditioned(31, 36, i % 2 ? 0.006 : 0.02)), // mean 0.013, wide
    );
    const cine = targets(held, noisy).find((t) => t.metric.includes('cinemagraph'))!;
    expect(cine.value).toBeCloseTo(0.013, 12);
    expect(cine.hi).toBeGreaterThan(0.015);
    expect(cine.met).toBe(false);
    const i2v = targets(held, noisy).find((t) => t.metric.includes('I2V'))!;
    expect(i2v).toMatchObject({ value: 31, lo: 31, met: true });
  });

  it('prints figures with their interval', () => {
    expect(withInterval({ value: 0.9259, lo: 0.8611, hi: 0.9619 })).toBe('92.6% [86.1%–96.2%]');
    expect(withInterval({ value: 0.5, lo: NaN, hi: NaN })).toBe('50.0%');
  });
});

const manifestPath = new URL('../../models/kinegraph-tiny/manifest.json', import.meta.url).pathname;
describe.skipIf(!existsSync(manifestPath))('the full evaluation set', () => {
  it('scores ≥ 200 clips: every held-out rule and the seen split at 4 seeds the smoke set never used', () => {
    const manifest = readHeldOutManifest(manifestPath);
    const p = evaluationPrompts(manifest, FULL_OPTIONS);
    const clips = (p['held-out'].length + p.seen.length) * FULL_OPTIONS.seeds.length;
    expect(clips).toBeGreaterThanOrEqual(200);
    expect(new Set(p['held-out'].map((x) => x.rule)).size).toBe(manifest.held_out.rules.length);
    expect(FULL_OPTIONS.seeds.length).toBeGreaterThanOrEqual(4);
    expect(FULL_OPTIONS.seeds.some((s) => SMOKE_OPTIONS.seeds.includes(s))).toBe(false);
    expect(FULL_OPTIONS).toMatchObject({ steps: 25, sampler: 'dpmpp-2m', guidance: 3 });
    // The smoke set is the earlier sessions' set, unchanged.
    const smoke = evaluationPrompts(manifest, SMOKE_OPTIONS);
    expect([smoke['held-out'].length, smoke.seen.length]).toEqual([14, 14]);
  });
});

describe('--pack takes a pack folder as well as a pack name', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  /** A pack folder outside models/: a manifest that says which export it is, and one model file. */
  function candidate(name: string, exportedAt: string): string {
    const parent = mkdtempSync(join(tmpdir(), 'kg-quality-test-'));
    made.push(parent);
    const dir = join(parent, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'kinegraph-tiny', exported_at: exportedAt }));
    writeFileSync(join(dir, 'stunet.onnx'), 'weights');
    return dir;
  }

  it('tells a path from a name', () => {
    expect(isPackPath('kinegraph-tiny')).toBe(false);
    expect(isPackPath('/tmp/candidate/kinegraph-tiny')).toBe(true);
    expect(isPackPath('./exported')).toBe(true);
    expect(isPackPath('.')).toBe(true);
  });

  it('evaluates the candidate folder, not the shipped pack of the same name, and restores the search path', async () => {
    const before = process.env.KINEGRAPH_MODELS;
    const snapshot = await snapshotPack(candidate('kinegraph-tiny', 'candidate-export'));
    try {
      expect(snapshot.name).toBe('kinegraph-tiny');
      expect(snapshot.manifest.exported_at).toBe('candidate-export');
      // What LoadModelPack finds by that name during the evaluation is the snapshot of the candidate.
      const found = await findPack(snapshot.name);
      expect(realpathSync(join(found, 'manifest.json'))).toBe(realpathSync(snapshot.manifestPath));
      expect(existsSync(join(found, 'stunet.onnx'))).toBe(true);
    } finally {
      snapshot.release();
    }
    expect(process.env.KINEGRAPH_MODELS).toBe(before);
    expect(existsSync(snapshot.manifestPath)).toBe(false);
  });

  it("answers to the folder's own name when it is not a shipped one", async () => {
    const snapshot = await snapshotPack(candidate('step-31700', 'another-export'));
    try {
      expect(snapshot.name).toBe('step-31700');
      expect((await findPack('step-31700')).startsWith(tmpdir())).toBe(true);
    } finally {
      snapshot.release();
    }
  });

  it('refuses a folder without a manifest with a coded error, and changes nothing', async () => {
    const before = process.env.KINEGRAPH_MODELS;
    const empty = mkdtempSync(join(tmpdir(), 'kg-quality-test-'));
    made.push(empty);
    await expect(snapshotPack(empty)).rejects.toMatchObject({ code: 'MODEL_PACK_NOT_FOUND' });
    expect(process.env.KINEGRAPH_MODELS).toBe(before);
  });
});
