import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGraph, defineNode, type NodeContext, Runtime, type TensorHandle, Type } from '@kinegraph/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLERS, type SamplerName, samplerCoefficients } from './coefficients.js';
import { denoise, type ModelInput } from './denoise.js';
import { denoiseFused, fusedStepLinks, fusedStepVariant } from './denoise-fused.js';
import { timesteps } from './schedule.js';
import { modelStepGraph } from './step-graphs.js';

// A stand-in denoiser with the STUNet's interface: x [R, C, 4] (3 state channels + C-3 conditioning),
// t [R], text [R, 1, 1] → prediction [R, 3, 4], depending on all three (so guidance and timesteps matter).
function denoiser(channels: number) {
  return buildGraph(`toy-denoiser-${channels}`, (g) => {
    const x = g.input('x', 'float32', ['R', channels, 4]);
    const t = g.input('t', 'float32', ['R']);
    const text = g.input('text', 'float32', ['R', 1, 1]);
    const state = g.slice(x, [0], [3], [1]);
    const cond = channels > 3 ? g.mul(g.slice(x, [channels - 3], [channels], [1]), 0.2) : g.scalar(0);
    const time = g.mul(g.reshape(t, [-1, 1, 1]), 0.001);
    g.output('prediction', g.add(g.add(g.add(g.mul(state, 0.3), cond), time), text));
  });
}

const T = 1000;
const alphas = Float64Array.from({ length: T }, (_, i) => Math.cos(((i / T + 0.008) / 1.008) * (Math.PI / 2)) ** 2);

/** Runs the same sampling with denoise() (model call + separate update graph) and denoiseFused(); returns the largest difference. */
async function compare(
  context: NodeContext,
  sampler: SamplerName,
  guided: boolean,
  conditioned: boolean,
  eta: number,
): Promise<number> {
  const tensors = context.tensors;
  const graph = denoiser(conditioned ? 5 : 3);
  const rows = guided ? 2 : 1;
  const coefficients = samplerCoefficients(sampler, eta, alphas, timesteps(T, 6));
  const start = () =>
    tensors.upload(
      Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1)),
      [1, 3, 4],
    );
  const text = await tensors.upload(
    Float32Array.from({ length: rows }, (_, i) => 0.5 - i),
    [rows, 1, 1],
  );
  const conditioning = conditioned
    ? await tensors.upload(
        Float32Array.from({ length: 8 }, (_, i) => i / 8),
        [1, 2, 4],
      )
    : undefined;
  const input: ModelInput = { ...(conditioning ? { conditioning } : {}), duplicate: guided };
  const noise = (step: number) =>
    tensors.upload(
      Float32Array.from({ length: 12 }, (_, i) => Math.cos(i * (step + 2))),
      [1, 3, 4],
    );
  const guidance = guided ? { guidance: 2.5 } : {};

  // What both samplers are given alike; each gets a start tensor of its own (a sampler consumes it).
  const shared = { context, sampler, coefficients, ...guidance, input, noise };
  const plain = await tensors.loadModel(graph.bytes);
  const reference = await denoise({
    ...shared,
    start: await start(),
    async predict(xin, t) {
      const tt = await tensors.upload(new Float32Array(rows).fill(t), [rows]);
      const out = await tensors.run(plain, { x: xin, t: tt, text });
      tensors.release(tt);
      return out.prediction!;
    },
  });
  const steps: number[] = [];
  const fusedModel = await tensors.loadModel(graph.bytes, {
    appendGraph: {
      bytes: modelStepGraph(fusedStepVariant({ ...guidance, input, sampler, eta })).graph.bytes,
      links: fusedStepLinks('x', 'prediction'),
    },
  });
  const fused = await denoiseFused({
    ...shared,
    start: await start(),
    model: fusedModel,
    names: { input: 'x', timestep: 't' },
    feeds: { text },
    onStep: (step) => void steps.push(step),
  });
  const [a, b] = [(await tensors.read(reference)) as Float32Array, (await tensors.read(fused)) as Float32Array];
  for (const t of [reference, fused, text, conditioning] as (TensorHandle | undefined)[]) if (t) tensors.release(t);
  if (steps.length !== coefficients.length)
    throw new Error(`onStep ran ${steps.length} times for ${coefficients.length} steps`);
  return Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
}

const cases = [
  ...SAMPLERS.map((sampler) => ({ sampler, guided: true, conditioned: true, eta: 0 })),
  { sampler: 'dpmpp-2m' as const, guided: false, conditioned: false, eta: 0 },
  { sampler: 'euler' as const, guided: false, conditioned: true, eta: 0 },
  { sampler: 'ddim' as const, guided: true, conditioned: false, eta: 1 },
];

const compareNode = defineNode({
  type: 'test/fused-vs-separate',
  version: 1,
  title: 'Fused vs separate sampling',
  category: 'test',
  description: 'Largest difference between denoise() and denoiseFused() on a toy model.',
  params: Type.Object({ case: Type.Integer({ minimum: 0 }) }),
  inputs: {},
  outputs: { text: { type: 'text' } },
  async run({ params, context }) {
    const c = cases[params.case]!;
    return { text: String(await compare(context, c.sampler, c.guided, c.conditioned, c.eta)) };
  },
});

const out = await mkdtemp(join(tmpdir(), 'kg-fused-'));
const runtime = await Runtime.create({ plugins: [{ name: 'fused', nodes: [compareNode] }], cacheBudgetBytes: 0 });
afterAll(() => runtime.close());

describe('denoiseFused (model + update in one session) gives what denoise() gives', () => {
  cases.forEach((c, index) => {
    it(`${c.sampler}${c.eta ? ` eta=${c.eta}` : ''}, ${c.guided ? 'guided' : 'unguided'}, ${c.conditioned ? 'with' : 'without'} conditioning`, async () => {
      const events = await lastValueFrom(
        runtime
          .run(
            {
              format: 'kinegraph/workflow@1',
              nodes: { n: { type: 'test/fused-vs-separate', version: 1, params: { case: index } } },
            },
            { outputFolder: out, allowedFolders: [out] },
          )
          .pipe(toArray()),
      );
      const done = events.find((e) => e.type === 'node:done');
      expect(done?.type, JSON.stringify(events.at(-1))).toBe('node:done');
      const worst = Number(done?.type === 'node:done' && (done.outputs.text as { value: string }).value);
      expect(worst).toBeLessThan(1e-5);
      const store = await runtime.store();
      expect(store.stats().liveTensors).toBe(0);
    });
  });
});
