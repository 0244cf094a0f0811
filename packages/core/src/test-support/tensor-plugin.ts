// Tensor-making nodes for core's tests: enough to see reference counts, peak memory and cleanup.
import { defineNode, definePlugin, Type } from '../sdk/index.js';

export const noise = defineNode({
  type: 'test/noise',
  version: 1,
  title: 'Noise',
  category: 'test',
  description: 'Seeded Gaussian noise [1, size].',
  params: Type.Object({ size: Type.Integer({ minimum: 1, default: 1024 }), seed: Type.Integer({ default: 0 }) }),
  inputs: {},
  outputs: { latent: { type: 'latent' } },
  async run({ params, context }) {
    return { latent: { kind: 'latent', tensor: await context.ops.randn([1, params.size], params.seed) } };
  },
});

export const scale = defineNode({
  type: 'test/scale',
  version: 1,
  title: 'Scale',
  category: 'test',
  description: 'Multiplies by a factor, making (and forgetting) an intermediate tensor on the way.',
  params: Type.Object({
    factor: Type.Number({ default: 2 }),
    failAfter: Type.Boolean({ default: false }),
    waitMs: Type.Integer({ default: 0 }),
  }),
  inputs: { latent: { type: 'latent' } },
  outputs: { latent: { type: 'latent' } },
  async run({ params, inputs, context }) {
    const half = await context.ops.scale(inputs.latent.tensor, params.factor / 2); // never released by hand
    if (params.waitMs) await new Promise((r) => setTimeout(r, params.waitMs));
    context.throwIfCancelled();
    if (params.failAfter) throw new Error('scale failed after making tensors');
    return { latent: { kind: 'latent', tensor: await context.ops.scale(half, 2) } };
  },
});

export const pass = defineNode({
  type: 'test/pass',
  version: 1,
  title: 'Pass',
  category: 'test',
  description: 'Returns its input unchanged (a borrowed handle as an output).',
  params: Type.Object({}),
  inputs: { latent: { type: 'latent' } },
  outputs: { latent: { type: 'latent' } },
  run({ inputs }) {
    return { latent: inputs.latent };
  },
});

export const mean = defineNode({
  type: 'test/mean',
  version: 1,
  title: 'Mean',
  category: 'test',
  description: 'Reads a tensor into JS and outputs its mean as text.',
  params: Type.Object({}),
  inputs: { latent: { type: 'latent' } },
  outputs: { text: { type: 'text' } },
  async run({ inputs, context }) {
    const data = (await context.tensors.read(inputs.latent.tensor)) as Float32Array;
    let sum = 0;
    for (const v of data) sum += v;
    return { text: (sum / data.length).toFixed(6) };
  },
});

export const tensorPlugin = definePlugin(() => ({ name: 'tensor-test-plugin', nodes: [noise, scale, pass, mean] }));
