import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineNode, type NodeContext, type RunEvent, Runtime, Type } from '@kinegraph/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { type SamplerName, samplerCoefficients } from './coefficients.js';
import { denoise } from './denoise.js';
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

/** A test node that runs one fixture run (by index) through `sample`, returning a short text result. */
function fixtureNode(
  type: string,
  description: string,
  sample: (
    spec: (typeof fixture.runs)[number],
    coefficients: ReturnType<typeof samplerCoefficients>,
    context: NodeContext,
  ) => Promise<string>,
) {
  return defineNode({
    type,
    version: 1,
    title: type,
    category: 'test',
    description,
    params: Type.Object({ run: Type.Integer({ minimum: 0 }) }),
    inputs: {},
    outputs: { text: { type: 'text' } },
    async run({ params, context }) {
      const spec = fixture.runs[params.run]!;
      const coefficients = samplerCoefficients(
        NAMES[spec.sampler]!,
        spec.eta,
        Float64Array.from(fixture.alphas_cumprod),
        timesteps(fixture.T, fixture.num_inference_steps),
      );
      return { text: await sample(spec, coefficients, context) };
    },
  });
}

// A node that runs the device sampling loop on the fixture's fixed predictions. The "model" is
// guided: [cond; uncond] with uncond = 0 and scale 1 gives back v exactly, exercising the CFG path too.
const parityNode = fixtureNode(
  'test/sampler-parity',
  'Runs denoise() on fixture predictions.',
  async (spec, coefficients, context) => {
    const states: number[][] = [];
    const x = await denoise({
      context,
      sampler: NAMES[spec.sampler]!,
      coefficients,
      guidance: 1,
      start: await context.tensors.upload(Float32Array.from(fixture.x_T), [1, n]),
      predict: (_x, _t, step) =>
        context.tensors.upload(Float32Array.from([...fixture.v_per_step[step]!, ...new Array<number>(n).fill(0)]), [
          2,
          n,
        ]),
      noise: (step) => context.tensors.upload(Float32Array.from(fixture.z_per_step[step]!), [1, n]),
      async onStep(step) {
        states.push([step]);
      },
    });
    const data = Array.from((await context.tensors.read(x)) as Float32Array);
    return JSON.stringify({ data, steps: states.length });
  },
);

// The same loop with the model input made by the loop (fused into each update): conditioning channels
// appended and the whole stacked twice. The "model" checks every input it gets against the reference state.
const CONDITIONING = Float32Array.from({ length: 5 }, (_, i) => i - 2.5);
const assembledNode = fixtureNode(
  'test/sampler-assembled-input',
  'Runs denoise() with input: { conditioning, duplicate }.',
  async (spec, coefficients, context) => {
    const conditioning = await context.tensors.upload(CONDITIONING, [1, CONDITIONING.length]);
    let worstInput = 0;
    const seenDims: string[] = [];
    const x = await denoise({
      context,
      sampler: NAMES[spec.sampler]!,
      coefficients,
      guidance: 1,
      start: await context.tensors.upload(Float32Array.from(fixture.x_T), [1, n]),
      input: { conditioning, duplicate: true },
      async predict(input, _t, step) {
        seenDims.push(input.dims.join('x'));
        const data = (await context.tensors.read(input)) as Float32Array;
        const state = step === 0 ? fixture.x_T : spec.x_after_step[step - 1]!;
        const row = n + CONDITIONING.length;
        for (const half of [0, 1]) {
          for (let i = 0; i < n; i++) worstInput = Math.max(worstInput, Math.abs(data[half * row + i]! - state[i]!));
          for (let i = 0; i < CONDITIONING.length; i++)
            worstInput = Math.max(worstInput, Math.abs(data[half * row + n + i]! - CONDITIONING[i]!));
        }
        return context.tensors.upload(
          Float32Array.from([...fixture.v_per_step[step]!, ...new Array<number>(n).fill(0)]),
          [2, n],
        );
      },
      noise: (step) => context.tensors.upload(Float32Array.from(fixture.z_per_step[step]!), [1, n]),
    });
    context.tensors.release(conditioning);
    const data = (await context.tensors.read(x)) as Float32Array;
    const expected = spec.x_after_step.at(-1)!;
    const worstFinal = Math.max(...Array.from(data, (v, i) => Math.abs(v - expected[i]!)));
    // Short: node outputs reach the events summarised.
    return JSON.stringify({ worstFinal, worstInput, calls: seenDims.length, dims: [...new Set(seenDims)] });
  },
);

const out = await mkdtemp(join(tmpdir(), 'kg-parity-'));
const runtime = await Runtime.create({
  plugins: [{ name: 'parity', nodes: [parityNode, assembledNode] }],
  cacheBudgetBytes: 0,
});
afterAll(() => runtime.close());

/** Runs one node of `type` on fixture run `index`; its events, and the JSON its text output carries. */
async function runOne<T>(type: string, index: number): Promise<{ events: RunEvent[]; result: T }> {
  const events = await lastValueFrom(
    runtime
      .run(
        { format: 'kinegraph/workflow@1', nodes: { p: { type, version: 1, params: { run: index } } } },
        { outputFolder: out, allowedFolders: [out] },
      )
      .pipe(toArray()),
  );
  const done = events.find((e) => e.type === 'node:done');
  expect(done?.type, JSON.stringify(events.at(-1))).toBe('node:done');
  const text = done?.type === 'node:done' ? (done.outputs.text as { value: string }).value : '';
  return { events, result: JSON.parse(text) as T };
}

describe('device sampler (ONNX graphs in the worker) vs training/sample.py', () => {
  fixture.runs.forEach((spec, index) => {
    it(`${spec.sampler} eta=${spec.eta}: final state within 1e-3`, async () => {
      const { events, result } = await runOne<{ data: number[]; steps: number }>('test/sampler-parity', index);
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

describe('denoise() making the model input itself (fused with each update)', () => {
  fixture.runs.forEach((spec, index) => {
    it(`${spec.sampler} eta=${spec.eta}: every input is [state, conditioning] twice, final state within 1e-3`, async () => {
      const { result } = await runOne<{ worstFinal: number; worstInput: number; calls: number; dims: string[] }>(
        'test/sampler-assembled-input',
        index,
      );
      expect(result.calls).toBe(fixture.num_inference_steps);
      expect(result.dims).toEqual([`2x${n + CONDITIONING.length}`]);
      expect(result.worstInput).toBeLessThan(1e-3);
      expect(result.worstFinal).toBeLessThan(1e-3);
      const store = await runtime.store();
      expect(store.stats().liveTensors).toBe(0);
    });
  });
});
