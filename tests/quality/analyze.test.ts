import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  analyzeClip,
  animatedRegionDelta,
  BACKGROUNDS,
  type BackgroundName,
  type Clip,
  COLOURS,
  type ColourName,
  classifyMotion,
  clipFromRgba,
  clipFromVideoTensor,
  clipToRgba,
  clipToVideoTensor,
  edgeSharpness,
  firstFramePsnr,
  frameOf,
  largestComponent,
  type MotionName,
  OBJECT_GATE,
  outsideMaskPsnr,
  PSNR_CAP,
  psnr,
  rectRegion,
  type ShapeName,
  shapeConstancy,
  staticRegionDelta,
} from './analyze.js';
import {
  allPrompts,
  captionFor,
  isHeldOut,
  parseCaption,
  readHeldOutManifest,
  ruleText,
  selectHeldOutPerRule,
  selectPrompts,
} from './captions.js';
import { loadTruth, UNTRAINED_FIXTURE } from './fixtures.js';

const truth = loadTruth();

// --- helpers --------------------------------------------------------------------------------------------

/** Deterministic Gaussian noise (Box–Muller over an LCG) so failures reproduce. */
function gaussians(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function withNoise(clip: Clip, sigma: number, seed: number): Clip {
  const g = gaussians(seed);
  return { ...clip, rgb: clip.rgb.map((v) => Math.min(1, Math.max(0, v + sigma * g()))) };
}

function accuracy(clips: typeof truth, transform: (c: Clip, i: number) => Clip = (c) => c) {
  const right = { colour: 0, shape: 0, motion: 0, background: 0 };
  clips.forEach((t, i) => {
    const a = analyzeClip(transform(t.clip, i));
    if (a.colour === t.colour) right.colour++;
    if (a.shape === t.shape) right.shape++;
    if (a.motion === t.motion) right.motion++;
    if (a.background.name === t.background) right.background++;
  });
  const n = clips.length;
  return {
    colour: right.colour / n,
    shape: right.shape / n,
    motion: right.motion / n,
    background: right.background / n,
  };
}

/**
 * An independent little renderer for synthetic cases: 4×4 supersampled hard-edged shapes (the training
 * renderer uses an analytic ramp instead), so these cases do not share the analyzer's template code.
 */
function renderSynthetic(
  o: {
    shape: ShapeName;
    colour: ColourName;
    background: BackgroundName;
    track: (f: number) => { x: number; y: number; r: number };
  },
  frames = 16,
  size = 32,
): Clip {
  const rgb = new Float32Array(frames * size * size * 3);
  const bg = BACKGROUNDS[o.background];
  const c = COLOURS[o.colour];
  for (let f = 0; f < frames; f++) {
    const { x, y, r } = o.track(f);
    for (let py = 0; py < size; py++) {
      for (let px = 0; px < size; px++) {
        let inside = 0;
        for (let sy = 0; sy < 4; sy++) {
          for (let sx = 0; sx < 4; sx++) {
            const dx = px + (sx + 0.5) / 4 - x;
            const dy = py + (sy + 0.5) / 4 - y;
            let hit: boolean;
            if (o.shape === 'circle') hit = dx * dx + dy * dy <= r * r;
            else if (o.shape === 'square') hit = Math.abs(dx) <= 0.9 * r && Math.abs(dy) <= 0.9 * r;
            else {
              // Apex-up equilateral triangle, centroid at (x, y), inradius 0.75 r.
              const ri = 0.75 * r;
              hit = dy <= ri && -0.5 * dy + 0.866 * dx <= ri && -0.5 * dy - 0.866 * dx <= ri;
            }
            if (hit) inside++;
          }
        }
        const a = inside / 16;
        for (let ch = 0; ch < 3; ch++) rgb[((f * size + py) * size + px) * 3 + ch] = bg[ch]! * (1 - a) + c[ch]! * a;
      }
    }
  }
  return { frames, height: size, width: size, rgb };
}

// --- ground truth ---------------------------------------------------------------------------------------

describe('reading ground-truth clips (training renderer, tests/quality/fixtures/truth)', () => {
  it('covers every shape × colour × motion, seen and held-out', () => {
    expect(truth).toHaveLength(147);
    expect(new Set(truth.map((t) => `${t.shape} ${t.colour} ${t.motion}`)).size).toBe(147);
    expect(truth.filter((t) => t.heldOut).length).toBeGreaterThan(10);
  });

  it('reads colour, motion, shape and background of ≥ 95% of the clips', () => {
    const acc = accuracy(truth);
    expect(acc.colour).toBeGreaterThanOrEqual(0.95);
    expect(acc.motion).toBeGreaterThanOrEqual(0.95);
    expect(acc.shape).toBeGreaterThanOrEqual(0.95);
    expect(acc.background).toBe(1);
  });

  it('keeps ≥ 95% under σ = 0.06 pixel noise (a generated clip is never clean)', () => {
    const acc = accuracy(truth, (c, i) => withNoise(c, 0.06, 1000 + i));
    expect(acc.colour).toBeGreaterThanOrEqual(0.95);
    expect(acc.motion).toBeGreaterThanOrEqual(0.95);
    expect(acc.shape).toBeGreaterThanOrEqual(0.95);
  });

  it('calls true clips temporally consistent and flicker-free', () => {
    for (const t of truth.slice(0, 40)) {
      const a = analyzeClip(t.clip);
      expect(a.temporalConsistency, t.caption).toBe(1);
      expect(a.backgroundFlicker, t.caption).toBeLessThan(0.005);
    }
  });

  it('scores a clip against the wrong caption as wrong (the reader is not just agreeing)', () => {
    // Each clip's reading compared with the next clip's attributes: they differ in every attribute most of
    // the time, so agreement must collapse to about chance.
    let agree = 0;
    truth.forEach((t, i) => {
      const other = truth[(i + 50) % truth.length]!;
      if (other.colour === t.colour) return;
      const a = analyzeClip(t.clip);
      if (a.colour === other.colour) agree++;
    });
    expect(agree).toBe(0);
  });
});

/** Box blur of every frame (k × k, edges clamped): a soft-edged version of a clip. */
function blur(clip: Clip, k: number): Clip {
  const { frames, height: h, width: w } = clip;
  const out = new Float32Array(clip.rgb.length);
  const r = (k - 1) / 2;
  for (let f = 0; f < frames; f++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let dy = -r; dy <= r; dy++)
            for (let dx = -r; dx <= r; dx++) {
              const yy = Math.min(h - 1, Math.max(0, y + dy));
              const xx = Math.min(w - 1, Math.max(0, x + dx));
              sum += clip.rgb[((f * h + yy) * w + xx) * 3 + c]!;
            }
          out[((f * h + y) * w + x) * 3 + c] = sum / (k * k);
        }
  return { ...clip, rgb: out };
}

/** Pooled shape constancy and edge sharpness of clips read against their own shapes. */
function perFrame(clips: typeof truth, transform: (c: Clip, i: number) => Clip = (c) => c) {
  let right = 0;
  let judged = 0;
  let iouSum = 0;
  let worstClip = 1;
  for (const [i, t] of clips.entries()) {
    const a = analyzeClip(transform(t.clip, i));
    const c = shapeConstancy(a, t.shape);
    const e = edgeSharpness(a);
    right += c.right;
    judged += c.judged;
    iouSum += e.iouSum;
    worstClip = Math.min(worstClip, c.right / c.judged);
  }
  return { constancy: right / judged, sharpness: iouSum / judged, worstClip, judged };
}

describe('shape constancy and edge sharpness on ground truth', () => {
  it('every judged frame of a true clip shows its shape, with IoU ≥ 0.98 against the template', () => {
    const r = perFrame(truth);
    expect(r.constancy).toBe(1);
    expect(r.worstClip).toBe(1);
    expect(r.sharpness).toBeGreaterThanOrEqual(0.98);
    // Frames cut off by the border are left out, the rest judged: most of the 147 × 16.
    expect(r.judged).toBeGreaterThan(0.9 * 147 * 16);
  });

  it('keeps constancy ≥ 97% and IoU ≥ 0.9 under σ = 0.06 pixel noise', () => {
    const r = perFrame(truth.slice(0, 60), (c, i) => withNoise(c, 0.06, 3000 + i));
    expect(r.constancy).toBeGreaterThanOrEqual(0.97);
    expect(r.sharpness).toBeGreaterThanOrEqual(0.9);
  });

  it('reads soft edges as less sharp: a 3×3 blur costs > 0.15 IoU, a 5×5 blur more', () => {
    const clips = truth.slice(0, 40);
    const sharp = perFrame(clips).sharpness;
    const soft = perFrame(clips, (c) => blur(c, 3)).sharpness;
    const softer = perFrame(clips, (c) => blur(c, 5)).sharpness;
    expect(sharp - soft).toBeGreaterThan(0.15);
    expect(softer).toBeLessThan(soft - 0.1);
  });
});

// --- synthetic cases --------------------------------------------------------------------------------------

describe('synthetic clips', () => {
  const cases: Array<{ motion: MotionName; track: (f: number) => { x: number; y: number; r: number } }> = [
    { motion: 'right', track: (f) => ({ x: 8 + 0.8 * f, y: 16, r: 4 }) },
    { motion: 'left', track: (f) => ({ x: 24 - 0.8 * f, y: 14, r: 4 }) },
    { motion: 'up', track: (f) => ({ x: 15, y: 24 - 0.7 * f, r: 4 }) },
    { motion: 'down', track: (f) => ({ x: 17, y: 8 + 0.7 * f, r: 4 }) },
    { motion: 'growing', track: (f) => ({ x: 16, y: 16, r: 2.5 * 2 ** (f / 15) }) },
    { motion: 'shrinking', track: (f) => ({ x: 16, y: 16, r: 6 * 0.5 ** (f / 15) }) },
    { motion: 'still', track: () => ({ x: 15.3, y: 16.6, r: 4.5 }) },
  ];
  const shapes: ShapeName[] = ['circle', 'square', 'triangle'];
  it.each(cases)('reads $motion for all three shapes', ({ motion, track }) => {
    shapes.forEach((shape, i) => {
      const colour = (['magenta', 'cyan', 'white'] as const)[i]!;
      const a = analyzeClip(renderSynthetic({ shape, colour, background: 'gray', track }));
      expect({ motion: a.motion, shape: a.shape, colour: a.colour }).toEqual({ motion, shape, colour });
    });
  });

  it('finds no object in noise or a blank frame, so they earn no credit', () => {
    const g = gaussians(7);
    const n = 16 * 32 * 32 * 3;
    const uniform: Clip = {
      frames: 16,
      height: 32,
      width: 32,
      rgb: Float32Array.from({ length: n }, () => Math.min(1, Math.max(0, 0.5 + 0.35 * g()))),
    };
    const blank: Clip = { frames: 16, height: 32, width: 32, rgb: new Float32Array(n).fill(0.5) };
    for (const clip of [uniform, blank]) {
      const a = analyzeClip(clip);
      expect(a.found).toBe(false);
      expect([a.colour, a.shape, a.motion]).toEqual([null, null, null]);
    }
  });

  it('finds no object in a blob that is no shape of the three (a ring)', () => {
    const rgb = new Float32Array(16 * 32 * 32 * 3);
    for (let f = 0; f < 16; f++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const d = Math.hypot(x + 0.5 - 16, y + 0.5 - 16);
          if (d > 5 && d < 9) rgb[((f * 32 + y) * 32 + x) * 3] = 1; // red ring on black
        }
      }
    }
    const a = analyzeClip({ frames: 16, height: 32, width: 32, rgb });
    expect(a.found).toBe(false);
    expect(a.shapeMisfit!.circle).toBeGreaterThan(OBJECT_GATE);
  });

  it('finds no object in the speckle of an untrained STUNet (fixtures/untrained: clips an earlier, laxer reader called objects)', () => {
    const junk = loadTruth(UNTRAINED_FIXTURE);
    expect(junk.length).toBe(6);
    for (const t of junk) {
      const a = analyzeClip(t.clip);
      expect(a.found, t.caption).toBe(false);
      expect(a.temporalConsistency).toBe(0);
      expect(a.backgroundFlicker).toBeGreaterThan(0.05); // speckle changes every frame
    }
  });

  it('counts the frames in which a triangle has turned into a circle (shape constancy)', () => {
    const track = (f: number) => ({ x: 10 + 0.7 * f, y: 16, r: 4.5 });
    const triangle = renderSynthetic({ shape: 'triangle', colour: 'yellow', background: 'black', track });
    const circle = renderSynthetic({ shape: 'circle', colour: 'yellow', background: 'black', track });
    const n = 32 * 32 * 3;
    // Frames 0-9 a triangle, 10-15 a circle (the "blob with ears" of issue #23, taken to its end).
    const morph: Clip = { ...triangle, rgb: triangle.rgb.slice() };
    morph.rgb.set(circle.rgb.subarray(10 * n), 10 * n);
    const a = analyzeClip(morph);
    expect(shapeConstancy(a, 'triangle')).toEqual({ right: 10, judged: 16 });
    expect(shapeConstancy(a, 'circle')).toEqual({ right: 6, judged: 16 });
    expect(shapeConstancy(analyzeClip(triangle), 'triangle')).toEqual({ right: 16, judged: 16 });
    // Each frame is a clean shape, so the edges stay sharp throughout.
    expect(edgeSharpness(a).iouSum / 16).toBeGreaterThan(0.9);
  });

  it('leaves frames where the object is cut off by the border out of shape constancy', () => {
    // A square leaving on the right: from some frame on it touches the border.
    const a = analyzeClip(
      renderSynthetic({
        shape: 'square',
        colour: 'white',
        background: 'navy',
        track: (f) => ({ x: 14 + 1.0 * f, y: 16, r: 4 }),
      }),
    );
    const c = shapeConstancy(a, 'square');
    expect(c.judged).toBeLessThan(16);
    expect(c.judged).toBeGreaterThanOrEqual(8);
    expect(c.right).toBe(c.judged);
  });

  it('scores shape constancy and sharpness 0 where no object is found', () => {
    const blank: Clip = { frames: 16, height: 32, width: 32, rgb: new Float32Array(16 * 32 * 32 * 3).fill(0.5) };
    const a = analyzeClip(blank);
    expect(shapeConstancy(a, 'circle')).toEqual({ right: 0, judged: 16 });
    expect(edgeSharpness(a)).toEqual({ iouSum: 0, judged: 16 });
  });

  it('finds no object in a speck smaller than any rendered object', () => {
    // A 2×2 half-covered red speck on black, still in every frame: 2 px² of soft area (true objects ≥ 11).
    const rgb = new Float32Array(16 * 32 * 32 * 3);
    for (let f = 0; f < 16; f++)
      for (const p of [16 * 32 + 16, 16 * 32 + 17, 17 * 32 + 16, 17 * 32 + 17]) rgb[(f * 1024 + p) * 3] = 0.5;
    expect(analyzeClip({ frames: 16, height: 32, width: 32, rgb }).found).toBe(false);
  });

  it('follows the object, not a speck elsewhere (largest component)', () => {
    const mask = new Uint8Array(36);
    mask[0] = 1; // 1-pixel speck
    for (const p of [14, 15, 20, 21, 27]) mask[p] = 1; // 5 connected pixels (27 joins diagonally)
    expect([...largestComponent(mask, 6, 6)].flatMap((v, i) => (v ? [i] : []))).toEqual([14, 15, 20, 21, 27]);
  });

  it('classifies motion evidence by the larger kind, and small evidence as still', () => {
    expect(classifyMotion(10, 1, 0)).toBe('right');
    expect(classifyMotion(-1, -9, 0.1)).toBe('up');
    expect(classifyMotion(1, 0, Math.log(4))).toBe('growing');
    expect(classifyMotion(0, 1, -Math.log(4))).toBe('shrinking');
    expect(classifyMotion(1.5, -1, 0.2)).toBe('still');
  });
});

// --- conditioning metrics ---------------------------------------------------------------------------------

describe('PSNR and cinemagraph metrics', () => {
  const source = truth[10]!.clip;

  it('PSNR of a known error: a uniform 0.1 offset is exactly 20 dB; identical is capped', () => {
    const shifted = { ...source, rgb: source.rgb.map((v) => v * 0.5 + 0.1) };
    const base = { ...source, rgb: source.rgb.map((v) => v * 0.5) };
    expect(psnr(shifted, base)).toBeCloseTo(20, 4);
    expect(psnr(source, source)).toBe(PSNR_CAP);
    expect(firstFramePsnr(source, frameOf(source, 0))).toBe(PSNR_CAP);
    expect(firstFramePsnr(source, frameOf(source, 15))).toBeLessThan(30);
  });

  it('inpainting PSNR ignores the region and sees everything outside it', () => {
    const region = rectRegion(32, 32, 0.25, 0.25, 0.5, 0.5);
    expect(region.reduce((a, b) => a + b, 0)).toBe(256);
    const insideChanged = { ...source, rgb: source.rgb.map((v, i) => (region[Math.floor(i / 3) % 1024] ? 1 - v : v)) };
    expect(outsideMaskPsnr(insideChanged, source, region)).toBe(PSNR_CAP);
    const outsideChanged = {
      ...source,
      rgb: source.rgb.map((v, i) => (region[Math.floor(i / 3) % 1024] ? v : Math.min(1, v + 0.1))),
    };
    expect(outsideMaskPsnr(outsideChanged, source, region)).toBeLessThan(25);
  });

  it('cinemagraph delta: 0 for a frozen outside, the flicker amplitude for a flickering one', () => {
    const region = rectRegion(32, 32, 0.25, 0.25, 0.5, 0.5);
    const n = 32 * 32;
    const frozen = new Float32Array(source.rgb.length);
    const flicker = new Float32Array(source.rgb.length);
    for (let f = 0; f < 16; f++) {
      for (let p = 0; p < n; p++) {
        for (let c = 0; c < 3; c++) {
          const i = (f * n + p) * 3 + c;
          // Inside: the moving source; outside: its first frame (+0.05 on odd frames for the flicker clip).
          const still = source.rgb[p * 3 + c]! * 0.9;
          frozen[i] = region[p] ? source.rgb[i]! : still;
          flicker[i] = region[p] ? source.rgb[i]! : still + (f % 2) * 0.05;
        }
      }
    }
    expect(staticRegionDelta({ ...source, rgb: frozen }, region)).toBe(0);
    expect(staticRegionDelta({ ...source, rgb: flicker }, region)).toBeCloseTo(0.05, 5);
    // Inside, the moving source shows through; a clip frozen everywhere has nothing there.
    expect(animatedRegionDelta({ ...source, rgb: frozen }, region)).toBe(animatedRegionDelta(source, region));
    expect(animatedRegionDelta(source, region)).toBeGreaterThan(0.005);
    const still = new Float32Array(source.rgb.length);
    for (let f = 0; f < 16; f++) still.set(source.rgb.subarray(0, n * 3), f * n * 3);
    expect(animatedRegionDelta({ ...source, rgb: still }, region)).toBe(0);
  });
});

// --- adapters -----------------------------------------------------------------------------------------------

describe('frame adapters', () => {
  const clip = truth[3]!.clip;
  it('video tensor [1, 3, F, H, W] in [-1, 1] round-trips', () => {
    const back = clipFromVideoTensor(clipToVideoTensor(clip), [1, 3, 16, 32, 32]);
    let max = 0;
    for (let i = 0; i < clip.rgb.length; i++) max = Math.max(max, Math.abs(back.rgb[i]! - clip.rgb[i]!));
    expect(max).toBeLessThan(1e-6);
  });
  it('RGBA frames round-trip to 8 bits', () => {
    const back = clipFromRgba(clipToRgba(clip));
    let max = 0;
    for (let i = 0; i < clip.rgb.length; i++) max = Math.max(max, Math.abs(back.rgb[i]! - clip.rgb[i]!));
    expect(max).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    expect(analyzeClip(back).motion).toBe(truth[3]!.motion);
  });
  it('picks the right batch item and clamps out-of-range values', () => {
    const one = clipToVideoTensor(clip);
    const two = new Float32Array(2 * one.length);
    two.fill(5);
    two.set(one, one.length);
    const second = clipFromVideoTensor(two, [2, 3, 16, 32, 32], 1);
    expect(second.rgb[100]).toBeCloseTo(clip.rgb[100]!, 6);
    expect(clipFromVideoTensor(two, [2, 3, 16, 32, 32], 0).rgb.every((v) => v === 1)).toBe(true);
  });
});

// --- captions and the manifest ----------------------------------------------------------------------------

describe('captions', () => {
  it('parses every ground-truth caption into its attributes and back', () => {
    for (const t of truth) {
      const parsed = parseCaption(t.caption);
      expect(parsed, t.caption).toEqual({
        objects: [{ colour: t.colour, shape: t.shape, motion: t.motion }],
        background: t.background,
      });
      expect(captionFor(parsed!.objects, parsed!.background)).toBe(t.caption);
    }
  });
  it('parses two-object captions and rejects others', () => {
    expect(parseCaption('a red square moving up and a blue circle growing on a navy background')).toEqual({
      objects: [
        { colour: 'red', shape: 'square', motion: 'up' },
        { colour: 'blue', shape: 'circle', motion: 'growing' },
      ],
      background: 'navy',
    });
    expect(parseCaption('a red square standing still on a gray background')?.objects[0]?.motion).toBe('still');
    expect(parseCaption('a purple square moving up on a navy background')).toBeNull();
    expect(parseCaption('a red square moving sideways on a navy background')).toBeNull();
    expect(parseCaption('a red square moving up on a navy')).toBeNull();
  });
});

const manifestPath = new URL('../../models/kinegraph-tiny/manifest.json', import.meta.url).pathname;
describe.skipIf(!existsSync(manifestPath))('held-out prompts from the pack manifest', () => {
  const manifest = existsSync(manifestPath) ? readHeldOutManifest(manifestPath) : undefined;
  it('the rules give exactly the manifest’s held-out combinations, and agree with the renderer', () => {
    const held = allPrompts(manifest!).filter((p) => p.heldOut);
    expect(allPrompts(manifest!)).toHaveLength(3 * 7 * 7 * 3);
    expect(held.map((p) => [p.shape, p.colour, p.motion, p.background].join()).sort()).toEqual(
      manifest!.held_out.combinations.map((c) => c.join()).sort(),
    );
    for (const t of truth) expect(isHeldOut(manifest!, t, t.background), t.caption).toBe(t.heldOut);
  });
  it('selects distinct prompts of one split, spread over the attributes', () => {
    const seen = selectPrompts(manifest!, 'seen', 14);
    const held = selectPrompts(manifest!, 'held-out', 14);
    expect(new Set(seen.map((p) => p.caption)).size).toBe(14);
    expect(seen.every((p) => !p.heldOut) && held.every((p) => p.heldOut)).toBe(true);
    expect(new Set(seen.map((p) => p.motion)).size).toBe(7);
    expect(new Set(seen.map((p) => p.colour)).size).toBe(7);
    expect(selectPrompts(manifest!, 'seen', 14)).toEqual(seen); // deterministic
  });
  it('selects held-out prompts rule by rule: every rule, up to N of each, all of a small rule', () => {
    const rules = manifest!.held_out.rules.map(ruleText);
    expect(rules).toContain('every yellow triangle');
    expect(rules).toContain('every cyan shape moving down');
    expect(rules).toContain('every red shape moving right on a navy background');
    const picked = selectHeldOutPerRule(manifest!, 5);
    const perRule = new Map(rules.map((r) => [r, picked.filter((p) => p.rule === r).length]));
    // 7 rules: three with ≥ 5 combinations (21, 9, 7) and four with exactly 3.
    expect([...perRule.values()]).toEqual([5, 5, 3, 5, 3, 3, 3]);
    expect(new Set(picked.map((p) => p.caption)).size).toBe(picked.length);
    expect(picked.every((p) => p.heldOut && isHeldOut(manifest!, p, p.background))).toBe(true);
    // The yellow triangles chosen vary in motion and background.
    const yellow = picked.filter((p) => p.rule === 'every yellow triangle');
    expect(new Set(yellow.map((p) => p.motion)).size).toBe(5);
    expect(new Set(yellow.map((p) => p.background)).size).toBe(3);
  });
});
