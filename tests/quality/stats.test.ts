import { describe, expect, it } from 'vitest';
import { bootstrapMean, bootstrapRatio, quantile, seededRandom, tInterval, tQuantile975, wilson } from './stats.js';

describe('Wilson interval', () => {
  it('matches published values (8/10: 0.490–0.943; 0/10: 0–0.278; 10/10: 0.722–1)', () => {
    const a = wilson(8, 10);
    expect(a.value).toBe(0.8);
    expect(a.lo).toBeCloseTo(0.4902, 4);
    expect(a.hi).toBeCloseTo(0.9433, 4);
    expect(wilson(0, 10)).toMatchObject({ lo: 0 });
    expect(wilson(0, 10).hi).toBeCloseTo(0.2775, 4);
    expect(wilson(10, 10)).toMatchObject({ hi: 1 });
    expect(wilson(10, 10).lo).toBeCloseTo(0.7225, 4);
  });
  it('needs a perfect score over ~75 clips before a lower bound clears 95%', () => {
    expect(wilson(72, 72).lo).toBeLessThan(0.95);
    expect(wilson(80, 80).lo).toBeGreaterThan(0.95);
    expect(wilson(107, 108).lo).toBeLessThan(0.95);
  });
  it('is NaN for no trials and refuses impossible counts', () => {
    expect(Number.isNaN(wilson(0, 0).lo)).toBe(true);
    expect(() => wilson(3, 2)).toThrow();
  });
});

describe('Student t interval', () => {
  it('uses the t quantile for small samples (df 11: 2.201) and tends to 1.96', () => {
    expect(tQuantile975(11)).toBe(2.201);
    expect(tQuantile975(1000)).toBeCloseTo(1.962, 3);
    const i = tInterval([1, 2, 3, 4, 5]);
    expect(i.value).toBe(3);
    // sd 1.5811, se 0.7071, t(4) 2.776
    expect(i.hi - i.value).toBeCloseTo(2.776 * Math.SQRT1_2, 4);
    expect(i.value - i.lo).toBeCloseTo(i.hi - i.value, 12);
  });
  it('has no width for one sample', () => {
    const i = tInterval([7]);
    expect(i.value).toBe(7);
    expect(Number.isNaN(i.lo)).toBe(true);
  });
});

describe('bootstrap over units', () => {
  it('is deterministic and brackets the estimate', () => {
    const rand = seededRandom(3);
    const xs = Array.from({ length: 60 }, () => rand());
    const a = bootstrapMean(xs);
    expect(bootstrapMean(xs)).toEqual(a);
    expect(a.lo).toBeLessThan(a.value);
    expect(a.hi).toBeGreaterThan(a.value);
    // Roughly the normal-theory width for a uniform sample: 1.96 · sqrt(1/12) / sqrt(60) ≈ 0.073.
    expect(a.hi - a.lo).toBeGreaterThan(0.1);
    expect(a.hi - a.lo).toBeLessThan(0.2);
  });
  it('pools a ratio of sums and resamples whole units', () => {
    // Two kinds of clip: 16 of 16 frames right, or 0 of 8: the pooled share is 16k / (16k + 8m).
    const num = [16, 16, 16, 0, 0];
    const den = [16, 16, 16, 8, 8];
    const r = bootstrapRatio(num, den);
    expect(r.value).toBeCloseTo(48 / 64, 12);
    expect(r.lo).toBeGreaterThanOrEqual(0);
    expect(r.hi).toBeLessThanOrEqual(1);
    // A unit-level interval is far wider than treating the 64 frames as independent would be.
    expect(r.hi - r.lo).toBeGreaterThan(0.4);
    expect(bootstrapRatio([4, 4], [4, 4])).toEqual({ value: 1, lo: 1, hi: 1 });
  });
  it('is NaN without units and refuses mismatched inputs', () => {
    expect(Number.isNaN(bootstrapMean([]).value)).toBe(true);
    expect(() => bootstrapRatio([1], [1, 2])).toThrow();
  });
  it('interpolates quantiles linearly', () => {
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([1, 2, 3], 1)).toBe(3);
  });
});
