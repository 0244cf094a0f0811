import { defineNode, KinegraphError, type NodeContext, type TensorHandle, Type } from '@kinegraph/core/sdk';
import { asPack, loadStunet, type PackValue } from '../../model/pack.js';
import { asPackFacts } from '../../model/pack-facts.js';
import { samplerCoefficients } from '../../sampling/coefficients.js';
import type { ModelInput } from '../../sampling/denoise.js';
import { denoiseFused, fusedStepLinks, fusedStepVariant } from '../../sampling/denoise-fused.js';
import { alphasCumprod, partialTimesteps, timesteps } from '../../sampling/schedule.js';
import { compositeGraph, modelStepGraph } from '../../sampling/step-graphs.js';
import { encodePrompt, expectDims, firstOutputName, previewSteps, samplingParams, stepNoise } from './common.js';
import { f32, guidanceTextBytes, stepScalarBytes } from './memory.js';

/**
 * STUNetSample: the space-time sampler. Denoises all frames of a clip at once with the pack's STUNet,
 * with classifier-free guidance (both branches in one batch), for text-to-video, and, given a
 * `conditioning`, image-to-video, inpainting and cinemagraphs; given an `init` video and `denoise` < 1 it
 * edits that video (SDEdit video-to-video). Every tensor stays in the inference worker.
 */
export const stunetSampleNode = defineNode({
  type: 'kinegraph/stunet-sample',
  version: 1,
  title: 'STUNet Sample',
  category: 'sampling',
  description: 'Generates a whole video clip in one space-time denoising pass (Lumiere).',
  params: Type.Object({
    ...samplingParams,
    guidance: Type.Number({
      minimum: 0,
      maximum: 30,
      default: 3,
      description: 'Classifier-free guidance scale (1 = off).',
    }),
    denoise: Type.Number({
      minimum: 0.01,
      maximum: 1,
      default: 1,
      description: 'With an init video: how much to change it (1 = ignore it entirely).',
    }),
    previewEvery: Type.Integer({
      minimum: 0,
      maximum: 200,
      default: 5,
      description: 'Send a preview every N steps (0 = never).',
    }),
    composite: Type.Boolean({
      default: true,
      description: 'Paste the known pixels of the conditioning into the result.',
    }),
  }),
  inputs: {
    model: { type: 'model' },
    positive: { type: 'embedding' },
    negative: { type: 'embedding', optional: true, description: 'Default: the empty prompt.' },
    conditioning: { type: 'conditioning', optional: true },
    init: { type: 'video', optional: true, description: 'Video to edit (video-to-video), with the denoise param.' },
  },
  outputs: { video: { type: 'video' } },
  // Sized by the pack (frames, resolution) and the prompt's batch B. With V the video [B, 3, F, H, W] and
  // X the model input [rows, 7, F, H, W] (rows = 2B with guidance: both branches in one batch), the most it
  // holds is at a step's model call: the conditioning channels (4/3 V), the state x, its input X, the
  // previous x0 (DPM++ 2M), DDIM's fresh noise, and the call's x_next, x0 and next input, each twice for a
  // moment (ONNX Runtime's buffer and the copy returned). The start noise, the composite at the end and
  // the previews (taken after a step has freed its inputs) all need less. On top: the text embeddings.
  memory({ params, inputs, facts }) {
    const pack = asPackFacts(facts.model);
    const positive = inputs.positive;
    if (!pack || !positive?.length) return undefined;
    const batch = positive[0]!;
    const [height, width] = pack.base;
    const video = [batch, 3, pack.frames, height, width];
    const guided = params.guidance !== 1;
    const rows = guided ? 2 * batch : batch;
    const V = f32(...video);
    const X = f32(rows, 7, pack.frames, height, width);
    const conditioning = f32(batch, 4, pack.frames, height, width);
    const noise = params.sampler === 'ddim' && params.eta > 0 ? V : 0;
    const step = conditioning + V + X + V + noise + 2 * (2 * V + X);
    const text = guidanceTextBytes(pack, positive, { guided, negativeConnected: inputs.negative !== undefined });
    return {
      outputs: { video: { dims: video, dtype: 'float32' } },
      scratchBytes: step + text + stepScalarBytes(rows) - V,
    };
  },
  async run({ params, inputs, context }) {
    const pack = asPack(inputs.model, context.nodeId);
    const m = pack.manifest;
    const [height, width] = m.resolution.base;
    const batch = inputs.positive.tensor.dims[0] ?? 1;
    const dims = [batch, 3, m.frames, height, width];
    const guided = params.guidance !== 1;
    const tensors = context.tensors;

    const text = guided
      ? await guidanceEmbeddings(context, pack, inputs.positive.tensor, inputs.negative?.tensor)
      : inputs.positive.tensor;
    const cond = await conditioningInput(context, inputs.conditioning, dims);

    const ac = alphasCumprod(m.schedule);
    const T = m.schedule.num_train_timesteps;
    const useInit = inputs.init !== undefined && params.denoise < 1;
    const steps = useInit ? partialTimesteps(T, params.steps, params.denoise) : timesteps(T, params.steps);
    const coefficients = samplerCoefficients(params.sampler, params.eta, ac, steps);
    const noise = await context.ops.randn(dims, params.seed);
    let start = noise;
    if (useInit) {
      expectDims(
        context.nodeId,
        'The init video',
        inputs.init!.tensor.dims,
        dims,
        'Resize it with kinegraph/resize-video to the pack\u2019s frames and size.',
      );
      // SDEdit: jump to the first timestep's noise level from the given video.
      const a = ac[steps[0]!]!;
      start = await context.ops.axpby(Math.sqrt(a), inputs.init!.tensor, Math.sqrt(1 - a), noise);
      tensors.release(noise);
    }

    // One session call per step: the STUNet with the sampler's update step appended (see denoiseFused).
    const ports = m.models.stunet;
    const [xName, tName, textName] = [
      ports.inputs[0]?.name ?? 'x',
      ports.inputs[1]?.name ?? 't',
      ports.inputs[2]?.name ?? 'text_embeddings',
    ];
    const input: ModelInput = { conditioning: cond, duplicate: guided };
    const guidance = guided ? { guidance: params.guidance } : {};
    const variant = fusedStepVariant({ ...guidance, input, sampler: params.sampler, eta: params.eta });
    const model = await loadStunet(pack, tensors, {
      appendGraph: {
        bytes: modelStepGraph(variant).graph.bytes,
        links: fusedStepLinks(xName, firstOutputName(ports.outputs)),
      },
    });
    let video = await denoiseFused({
      context,
      sampler: params.sampler,
      coefficients,
      start,
      ...guidance,
      input,
      model,
      names: { input: xName, timestep: tName },
      feeds: { [textName]: text },
      noise: stepNoise(context, dims, params.seed),
      onStep: previewSteps(context, params.previewEvery, coefficients.length),
    });

    if (inputs.conditioning && params.composite) {
      const { out: composited } = await compositeGraph.run(context, {
        x: video,
        known: inputs.conditioning.video,
        keep: inputs.conditioning.mask,
      });
      tensors.release(video);
      video = composited;
    }
    return { video: { kind: 'video', tensor: video, fps: m.fps } };
  },
});

/** [positive; negative] stacked on the batch axis; the negative defaults to the empty prompt. */
async function guidanceEmbeddings(
  context: NodeContext,
  pack: PackValue,
  positive: TensorHandle,
  negative: TensorHandle | undefined,
): Promise<TensorHandle> {
  const neg = negative ?? (await encodePrompt(context, pack, '', { warn: false })).tensor;
  if (neg.dims.join() !== positive.dims.join()) {
    throw new KinegraphError(
      'SHAPE_MISMATCH',
      `The negative embedding [${neg.dims.join(', ')}] does not match the positive one [${positive.dims.join(', ')}].`,
      {
        nodeId: context.nodeId,
        hint: 'Encode both prompts with the same model pack.',
      },
    );
  }
  return context.ops.concat([positive, neg], 0);
}

/** The 4 conditioning channels (known video, keep-mask), or zeros for plain text-to-video. */
async function conditioningInput(
  context: NodeContext,
  conditioning: { video: TensorHandle; mask: TensorHandle } | undefined,
  dims: number[],
): Promise<TensorHandle> {
  const [b, , f, h, w] = dims as [number, number, number, number, number];
  if (!conditioning) return context.tensors.upload(new Float32Array(b * 4 * f * h * w), [b, 4, f, h, w], 'float32');
  const hint =
    'Make the conditioning with kinegraph/image-condition or kinegraph/mask-inpaint from the same model pack.';
  expectDims(context.nodeId, 'The conditioning video', conditioning.video.dims, dims, hint);
  expectDims(context.nodeId, 'The conditioning mask', conditioning.mask.dims, [b, 1, f, h, w], hint);
  return context.ops.concat([conditioning.video, conditioning.mask], 1);
}
