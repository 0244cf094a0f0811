import { describe, expect, test } from 'vitest';
import { gaussianNoise } from './random.js';

describe('gaussianNoise', () => {
  test('is deterministic, seed-sensitive and splittable at even offsets', () => {
    const a = gaussianNoise(1001, 42);
    expect(gaussianNoise(1001, 42)).toEqual(a);
    const b = gaussianNoise(1001, 43);
    expect(b.filter((v, i) => v === a[i]).length).toBeLessThan(5);
    const big = gaussianNoise(1001, 2 ** 40 + 42); // the high 32 bits of the seed matter too
    expect(big.filter((v, i) => v === a[i]).length).toBeLessThan(5);
    const tail = gaussianNoise(501, 42, 500);
    expect(tail).toEqual(a.subarray(500));
  });

  test('pins the algorithm: the first values for seed 0 never change', () => {
    expect(Array.from(gaussianNoise(4, 0), (v) => v.toFixed(6))).toMatchInlineSnapshot(`
      [
        "0.214565",
        "-1.008011",
        "-1.171713",
        "0.714247",
      ]
    `);
  });

  test('is approximately standard normal', () => {
    const n = 200_000;
    const z = gaussianNoise(n, 7);
    let sum = 0;
    let sq = 0;
    let within1 = 0;
    for (const v of z) {
      sum += v;
      sq += v * v;
      if (Math.abs(v) < 1) within1++;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(Math.abs(within1 / n - 0.6827)).toBeLessThan(0.005);
    // Neighbouring elements are uncorrelated (the counter-based generator must not leak structure).
    let lag = 0;
    for (let i = 1; i < n; i++) lag += z[i]! * z[i - 1]!;
    expect(Math.abs(lag / n)).toBeLessThan(0.01);
  });

  test('rejects bad seeds and odd offsets', () => {
    expect(() => gaussianNoise(4, -1)).toThrow(/seed/);
    expect(() => gaussianNoise(4, 1.5)).toThrow(/seed/);
    expect(() => gaussianNoise(4, 1, 3)).toThrow(/offset/);
  });
});
