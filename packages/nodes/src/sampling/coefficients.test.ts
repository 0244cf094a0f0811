import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type SamplerName, samplerCoefficients } from './coefficients.js';
import { alphasCumprod, partialTimesteps, roundHalfEven, timesteps } from './schedule.js';

// Written by the training code's own samplers: `training/sample.py` write_fixture(steps=7, n=8, seed=3).
const fixture = JSON.parse(readFileSync(new URL('./fixtures/sampler-parity.json', import.meta.url), 'utf8')) as {
  T: number;
  num_inference_steps: number;
  timesteps: number[];
  alphas_cumprod: number[];
  x_T: number[];
  v_per_step: number[][];
  z_per_step: number[][];
  runs: Array<{ sampler: string; eta: number; x_after_step: number[][] }>;
};

const NAMES: Record<string, SamplerName> = { ddim: 'ddim', euler: 'euler', dpmpp_2m: 'dpmpp-2m' };

describe('schedule', () => {
  it('recomputes the cosine alphas_cumprod of the training code', () => {
    const ac = alphasCumprod({ type: 'cosine', num_train_timesteps: 1000, cosine_s: 0.008, max_beta: 0.999 });
    let worst = 0;
    for (const [i, v] of fixture.alphas_cumprod.entries()) worst = Math.max(worst, Math.abs(v - ac[i]!));
    expect(worst).toBeLessThan(1e-12);
  });

  it('visits numpy-rounded linspace timesteps', () => {
    expect(timesteps(fixture.T, fixture.num_inference_steps)).toEqual(fixture.timesteps);
    expect(roundHalfEven(832.5)).toBe(832);
    expect(roundHalfEven(499.5)).toBe(500);
    expect(partialTimesteps(1000, 10, 0.5)).toEqual(timesteps(1000, 10).slice(5));
  });
});

describe('sampler coefficients (float64 reference parity)', () => {
  const ac = Float64Array.from(fixture.alphas_cumprod);
  for (const run of fixture.runs) {
    it(`${run.sampler} eta=${run.eta} matches training/sample.py step by step`, () => {
      const coefficients = samplerCoefficients(NAMES[run.sampler]!, run.eta, ac, fixture.timesteps);
      let x = [...fixture.x_T];
      let prevX0 = x.map(() => 0);
      coefficients.forEach((c, step) => {
        const v = fixture.v_per_step[step]!;
        const z = fixture.z_per_step[step]!;
        const x0 = x.map((xi, i) => c.alpha * xi - c.sigma * v[i]!);
        x = x.map((xi, i) => c.cx * xi + c.cv * v[i]! + c.cz * z[i]! + c.cp * prevX0[i]!);
        prevX0 = x0;
        const expected = run.x_after_step[step]!;
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - expected[i]!)).toBeLessThan(1e-9);
      });
    });
  }
});
