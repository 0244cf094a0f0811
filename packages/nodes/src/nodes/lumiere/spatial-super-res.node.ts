import { defineNode, KinegraphError, type NodeContext, type TensorHandle, Type } from '@kinegraph/core/sdk';
import { asPack, packModel } from '../../model/pack.js';
import { asPackFacts } from '../../model/pack-facts.js';
import { samplerCoefficients } from '../../sampling/coefficients.js';
import { denoise } from '../../sampling/denoise.js';
import { alphasCumprod, timesteps } from '../../sampling/schedule.js';
import { accumulateGraph, inputGraph } from '../../sampling/step-graphs.js';
import { firstOutputName, previewSteps, samplingParams, stepNoise, timestepTensor } from './common.js';
import { expectRank } from './fit.js';
import { f32, stepScalarBytes } from './memory.js';

/** Start frames of overlapping windows covering `frames`, the last one flush with the end. */
export function windowStarts(frames: number, window: number, stride: number): number[] {
  if (frames <= window) return [0];
  const starts: number[] = [];
  for (let s = 0; s + window < frames; s += stride) starts.push(s);
  starts.push(frames - window);
  return [...new Set(starts)];
}

/**
 * SpatialSuperRes: a low-resolution video → 2× resolution with the pack's super-resolution model, run over
 * overlapping temporal windows whose predictions are averaged at every step (MultiDiffusion), so a clip of
 * any length is upscaled without seams at window borders.
 */
export const spatialSuperResNode = defineNode({
  type: 'kinegraph/spatial-super-res',
  version: 1,
  title: 'Spatial Super-Resolution',
  category: 'sampling',
  description: 'Upscales a video 2× over overlapping temporal windows blended with MultiDiffusion.',
  params: Type.Object({
    ...samplingParams,
    steps: Type.Integer({ minimum: 1, maximum: 200, default: 20, description: 'Denoising steps.' }),
    window: Type.Integer({
      minimum: 1,
      maximum: 256,
      default: 8,
      description: 'Frames per window (the model was trained on 8).',
    }),
    stride: Type.Integer({
      minimum: 1,
      maximum: 256,
      default: 4,
      description: 'Frames between window starts; less than the window means overlap.',
    }),
    previewEvery: Type.Integer({ minimum: 0, maximum: 200, default: 5 }),
  }),
  inputs: { model: { type: 'model' }, video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  // With V the upscaled video [B, 3, F, H', W'] and S one window of it: held throughout are the upsampled
  // conditioning (V), its windows, the state x and the previous x0. On top, the most of: a step's update
  // (the averaged prediction, DDIM's noise, x_next and x0 twice while the call returns), a window's model
  // call (the running sum, the window's slice and 6-channel input, the prediction twice: 5S with the sum)
  // and the sum's update (the old sum, the window's prediction, the new sum twice).
  memory({ params, inputs, facts }) {
    const pack = asPackFacts(facts.model);
    const source = inputs.video;
    if (!pack?.ssr || source?.length !== 5) return undefined;
    const [batch, , frames] = source as [number, number, number];
    const video = [batch, 3, frames, ...pack.ssr];
    const V = f32(...video);
    const starts = windowStarts(frames, params.window, params.stride);
    const span = Math.min(params.window, frames);
    const S = f32(batch, 3, span, ...pack.ssr);
    const held = V + starts.length * S + V + V + f32(frames);
    const noise = params.sampler === 'ddim' && params.eta > 0 ? V : 0;
    const update = V + noise + 2 * (2 * V);
    const window = Math.max(V + S + 2 * (2 * S), V + 2 * V + S);
    return {
      outputs: { video: { dims: video, dtype: 'float32' } },
      scratchBytes: held + Math.max(update, window) + stepScalarBytes(batch) - V,
    };
  },
  async run({ params, inputs, context }) {
    const pack = asPack(inputs.model, context.nodeId);
    const m = pack.manifest;
    const ssr = m.models.ssr;
    const session = await packModel(pack, 'ssr', context.tensors);
    if (!ssr || !session || !m.resolution.ssr) {
      throw new KinegraphError('MODEL_ROLE_MISSING', `Model pack "${m.name}" has no super-resolution model.`, {
        nodeId: context.nodeId,
        hint: 'Use a pack with models.ssr, such as kinegraph-tiny.',
      });
    }
    expectRank(context, 'The video', inputs.video.tensor, [5], 'Connect a video.');
    if (params.stride > params.window) {
      throw new KinegraphError(
        'PARAM_INVALID',
        `stride (${params.stride}) is larger than window (${params.window}): frames between windows would never be upscaled.`,
        {
          nodeId: context.nodeId,
          hint: `Use a stride of at most ${params.window}; half the window (${Math.max(1, params.window >> 1)}) blends well.`,
        },
      );
    }
    const [b, , frames, h, w] = inputs.video.tensor.dims as [number, number, number, number, number];
    const [outH, outW] = m.resolution.ssr;
    const [baseH, baseW] = m.resolution.base;
    if (h !== baseH || w !== baseW) {
      throw new KinegraphError(
        'SHAPE_MISMATCH',
        `The video is ${w}\u00d7${h}; this super-resolution model takes ${baseW}\u00d7${baseH}.`,
        {
          nodeId: context.nodeId,
          hint: `Resize it first with kinegraph/resize-video to ${baseW}\u00d7${baseH}.`,
        },
      );
    }
    const dims = [b, 3, frames, outH, outW];
    // The conditioning: the low-res video upsampled bilinearly (half-pixel), as in training.
    const upsampled = await context.ops.resize(inputs.video.tensor, [outH, outW], 'linear');
    const starts = windowStarts(frames, params.window, params.stride);
    const span = Math.min(params.window, frames);
    const windows = await Promise.all(starts.map((s) => context.ops.slice(upsampled, 2, s, s + span)));
    const inverseCount = await windowWeights(context, frames, starts, span);

    const [xName, tName] = [ssr.inputs[0]?.name ?? 'x', ssr.inputs[1]?.name ?? 't'];
    const outName = firstOutputName(ssr.outputs);
    const prepare = inputGraph({ parts: 2, duplicate: false });
    const coefficients = samplerCoefficients(
      params.sampler,
      params.eta,
      alphasCumprod(m.schedule),
      timesteps(m.schedule.num_train_timesteps, params.steps),
    );
    const tensors = context.tensors;
    const video = await denoise({
      context,
      sampler: params.sampler,
      coefficients,
      start: await context.ops.randn(dims, params.seed),
      async predict(x, t) {
        const tt = await timestepTensor(context, t, b);
        let acc: TensorHandle | undefined;
        for (let i = 0; i < starts.length; i++) {
          const s = starts[i]!;
          const xs = await context.ops.slice(x, 2, s, s + span);
          const { out: xin } = await prepare.run(context, { in0: xs, in1: windows[i]! });
          const pred = (await tensors.run(session, { [xName]: xin, [tName]: tt }, [outName]))[outName]!;
          tensors.release(xs);
          tensors.release(xin);
          // Pad the window's prediction into place along the frames and add it to the sum.
          const base =
            acc ?? (await tensors.upload(new Float32Array(dims.reduce((p, d) => p * d, 1)), dims, 'float32'));
          const pads = [0, 0, s, 0, 0, 0, 0, frames - s - span, 0, 0];
          const { out: next } = await accumulateGraph.run(context, { acc: base, w: pred, pads });
          tensors.release(base);
          tensors.release(pred);
          acc = next;
        }
        tensors.release(tt);
        const averaged = await context.ops.mul(acc!, inverseCount);
        tensors.release(acc!);
        return averaged;
      },
      noise: stepNoise(context, dims, params.seed),
      onStep: previewSteps(context, params.previewEvery, coefficients.length),
    });
    return { video: { kind: 'video', tensor: video, fps: inputs.video.fps } };
  },
});

/** 1 / (number of windows covering each frame), shaped [1,1,F,1,1] to broadcast over the video. */
async function windowWeights(
  context: NodeContext,
  frames: number,
  starts: readonly number[],
  span: number,
): Promise<TensorHandle> {
  const counts = new Float32Array(frames);
  for (const s of starts) for (let f = s; f < s + span; f++) counts[f]! += 1;
  return context.tensors.upload(
    counts.map((c) => 1 / c),
    [1, 1, frames, 1, 1],
    'float32',
  );
}
