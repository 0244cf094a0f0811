import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, Type, defineNode } from '@kinegraph/core';
import { denoise } from './denoise.js';
import { samplerCoefficients, type SamplerName } from './coefficients.js';
import { timesteps } from './schedule.js';

// Written by training/sample.py (the reference samplers): same x_T, per-step predictions and noise.
const fixture = JSON.parse(readFileSync(new URL('./fixtures/sampler-parity.json', import.meta.url), 'utf8')) as {
  T: number;
  num_inference_steps: number;
  alphas_cumprod: number[];
  x_T: number[];
  v_per_step: number[][];
  z_per_step: number[][];
  runs: Array<{ sampler: string; eta: number; x_after_step: number[][] }>;
};
const NAMES: Record<string, SamplerName> = { ddim: 'ddim', euler: 'euler', dpmpp_2m: 'dpmpp-2m' };
const n = fixture.x_T.length;

// A node that runs the device sampling loop on the fixture's fixed predictions. The "model" is
// guided: [cond; uncond] with uncond = 0 and scale 1 gives back v exactly, exercising the CFG path too.
const parityNode = defineNode({
  type: 'test/sampler-parity',
  version: 1,
  title: 'Sampler parity',
  category: 'test',
  description: 'Runs denoise() on fixture predictions.',
  params: Type.Object({ run: Type.Integer({ minimum: 0 }) }),
  inputs: {},
  outputs: { text: { type: 'text' } },
  async run({ params, context }) {
    const spec = fixture.runs[params.run]!;
    const coefficients = samplerCoefficients(NAMES[spec.sampler]!, spec.eta, Float64Array.from(fixture.alphas_cumprod), timesteps(fixture.T, fixture.num_inference_steps));
    const states: number[][] = [];
    const x = await denoise({
      context,
      sampler: NAMES[spec.sampler]!,
      coefficients,
      guidance: 1,
      start: await context.tensors.upload(Float32Array.from(fixture.x_T), [1, n]),
      predict: (_x, _t, step) => context.tensors.upload(Float32Array.from([...fixture.v_per_step[step]!, ...new Array<number>(n).fill(0)]), [2, n]),
      noise: (step) => context.tensors.upload(Float32Array.from(fixture.z_per_step[step]!), [1, n]),
      async onStep(step) {
        states.push([step]);
      },
    });
    const data = Array.from((await context.tensors.read(x)) as Float32Array);
    return { text: JSON.stringify({ data, steps: states.length }) };
  },
});

const out = await mkdtemp(join(tmpdir(), 'kg-parity-'));
const runtime = await Runtime.create({ plugins: [{ name: 'parity', nodes: [parityNode] }], cacheBudgetBytes: 0 });
afterAll(() => runtime.close());

describe('device sampler (ONNX graphs in the worker) vs training/sample.py', () => {
  fixture.runs.forEach((spec, index) => {
    it(`${spec.sampler} eta=${spec.eta}: final state within 1e-3`, async () => {
      const events = await lastValueFrom(
        runtime.run({ format: 'kinegraph/workflow@1', nodes: { p: { type: 'test/sampler-parity', version: 1, params: { run: index } } } }, { outputFolder: out, allowedFolders: [out] }).pipe(toArray()),
      );
      const done = events.find((e) => e.type === 'node:done');
      expect(done?.type).toBe('node:done');
      const result = JSON.parse(String(done?.type === 'node:done' && (done.outputs.text as { value: string }).value)) as { data: number[]; steps: number };
      expect(result.steps).toBe(fixture.num_inference_steps);
      const expected = spec.x_after_step.at(-1)!;
      const worst = Math.max(...result.data.map((v, i) => Math.abs(v - expected[i]!)));
      expect(worst).toBeLessThan(1e-3);
      const progress = events.filter((e) => e.type === 'node:progress');
      expect(progress.length).toBe(fixture.num_inference_steps);
      const store = await runtime.store();
      expect(store.stats().liveTensors).toBe(0);
    });
  });
});
