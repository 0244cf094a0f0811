import { defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';
import { asPack, packModel } from '../../model/pack.js';
import { asPackFacts } from '../../model/pack-facts.js';
import { samplerCoefficients } from '../../sampling/coefficients.js';
import { denoise } from '../../sampling/denoise.js';
import { alphasCumprod, timesteps } from '../../sampling/schedule.js';
import { encodePrompt, previewSteps, samplingParams, stepNoise, textDenoiser } from './common.js';
import { f32, guidanceTextBytes, stepScalarBytes } from './memory.js';

/**
 * TextToImage: one image from a prompt with the pack's text-to-image U-Net, the model STUNet was inflated
 * from. It makes the first frame of the paper's text → image → video path (feed it to ImageCondition).
 */
export const textToImageNode = defineNode({
  type: 'kinegraph/text-to-image',
  version: 1,
  title: 'Text to Image',
  category: 'sampling',
  description: 'Generates a single frame with the pack\u2019s T2I base model.',
  params: Type.Object({
    ...samplingParams,
    guidance: Type.Number({
      minimum: 0,
      maximum: 30,
      default: 3,
      description: 'Classifier-free guidance scale (1 = off).',
    }),
    previewEvery: Type.Integer({
      minimum: 0,
      maximum: 200,
      default: 5,
      description: 'Send a preview every N steps (0 = never).',
    }),
  }),
  inputs: {
    model: { type: 'model' },
    positive: { type: 'embedding' },
    negative: { type: 'embedding', optional: true },
  },
  outputs: { image: { type: 'image' } },
  // Sized by the pack's resolution and the prompt's batch B. With I the image [B, 3, H, W], the most it
  // holds is at a step's update: the state x, the previous x0, the model's prediction (2I with guidance),
  // DDIM's fresh noise, and the update's x_next, x0 and (with guidance) the next model input [2B, 3, H, W],
  // each twice for a moment while the call returns. The model call itself and the previews need less.
  memory({ params, inputs, facts }) {
    const pack = asPackFacts(facts.model);
    const positive = inputs.positive;
    if (!pack || !positive?.length) return undefined;
    const batch = positive[0]!;
    const image = [batch, 3, ...pack.base];
    const guided = params.guidance !== 1;
    const rows = guided ? 2 * batch : batch;
    const I = f32(...image);
    const noise = params.sampler === 'ddim' && params.eta > 0 ? I : 0;
    const nextInput = guided ? 2 * I : 0;
    const update = I + I + (rows / batch) * I + noise + 2 * (2 * I + nextInput);
    const text = guidanceTextBytes(pack, positive, { guided, negativeConnected: inputs.negative !== undefined });
    return {
      outputs: { image: { dims: image, dtype: 'float32' } },
      scratchBytes: update + text + stepScalarBytes(rows) - I,
    };
  },
  async run({ params, inputs, context }) {
    const pack = asPack(inputs.model, context.nodeId);
    const m = pack.manifest;
    const t2i = m.models.t2i;
    const session = await packModel(pack, 't2i', context.tensors);
    if (!t2i || !session) {
      throw new KinegraphError('MODEL_ROLE_MISSING', `Model pack "${m.name}" has no text-to-image model.`, {
        nodeId: context.nodeId,
        hint: 'Use a pack with models.t2i, such as kinegraph-tiny.',
      });
    }
    const [height, width] = m.resolution.base;
    const batch = inputs.positive.tensor.dims[0] ?? 1;
    const dims = [batch, 3, height, width];
    const guided = params.guidance !== 1;
    const neg =
      inputs.negative?.tensor ?? (guided ? (await encodePrompt(context, pack, '', { warn: false })).tensor : undefined);
    const text = guided ? await context.ops.concat([inputs.positive.tensor, neg!], 0) : inputs.positive.tensor;
    const coefficients = samplerCoefficients(
      params.sampler,
      params.eta,
      alphasCumprod(m.schedule),
      timesteps(m.schedule.num_train_timesteps, params.steps),
    );
    const image = await denoise({
      context,
      sampler: params.sampler,
      coefficients,
      start: await context.ops.randn(dims, params.seed),
      ...(guided ? { guidance: params.guidance } : {}),
      ...textDenoiser(context, session, t2i, { guided, batch, text, timesteps: coefficients.map((c) => c.t) }),
      noise: stepNoise(context, dims, params.seed),
      onStep: previewSteps(context, params.previewEvery, coefficients.length),
    });
    return { image: { kind: 'image', tensor: image } };
  },
});
