import { defineGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';

/**
 * **Seamless Loop (re-sample seam)** (`seamless-loop/seam-condition`): prepares a clip so a STUNet sampler
 * can repair its loop seam. The clip is rolled by half its length (the seam moves to the middle) and the
 * `regenerate` frames around the seam are marked unknown. Connect `conditioning` to
 * `kinegraph/stunet-sample` with the same model pack and prompt: the sampler generates those frames from
 * both neighbours at once (space-time attention sees the whole clip), and the result loops with no
 * cut and no double exposure, keeping every frame. Its first frame is the old middle frame.
 *
 * The clip must have the model's frame count and resolution (a clip from the same pack does; resize
 * others with `kinegraph/resize-video` first).
 */
export const seamConditionNode = defineNode({
  type: 'seamless-loop/seam-condition',
  version: 1,
  title: 'Seamless Loop (re-sample seam)',
  category: 'video/loop',
  description:
    'Rolls a clip so its loop seam is in the middle and marks the frames around it for a STUNet sampler to regenerate.',
  params: Type.Object({
    regenerate: Type.Integer({
      default: 4,
      minimum: 1,
      maximum: 1000,
      description: 'Frames around the seam the sampler regenerates; at most the clip length minus 2.',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: {
    conditioning: {
      type: 'conditioning',
      description: 'For kinegraph/stunet-sample: the rolled clip, known everywhere but around the seam.',
    },
    video: { type: 'video', description: 'The rolled clip, before re-sampling.' },
  },
  // The rolled clip, the known clip (the conditioning's video) and the keep-mask [B, 1, N, H, W], each
  // twice while the graph returns them, and the frame order (int64) and keep flags it is fed.
  memory({ inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const [b, , frames, h, w] = d as [number, number, number, number, number];
    const video = [b, 3, frames, h, w];
    const clip = video.reduce((n, x) => n * x, 4);
    const mask = b * frames * h * w * 4;
    return {
      outputs: { conditioning: { dims: video, dtype: 'float32' }, video: { dims: video, dtype: 'float32' } },
      scratchBytes: mask + 2 * clip + mask + 12 * frames,
    };
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw new KinegraphError(
        'INVALID_INPUT',
        `Seamless Loop needs an RGB video [B, 3, F, H, W]; got [${tensor.dims.join(', ')}].`,
        { nodeId: context.nodeId, hint: 'Connect a video output (a sampler, Load Video, ...).' },
      );
    }
    const frames = tensor.dims[2]!;
    if (params.regenerate > frames - 2) {
      throw new KinegraphError(
        'PARAM_INVALID',
        `regenerate ${params.regenerate} leaves fewer than 2 known frames of the clip's ${frames}.`,
        { nodeId: context.nodeId, hint: `Use regenerate from 1 to ${Math.max(1, frames - 2)} for this clip.` },
      );
    }
    context.throwIfCancelled();
    const plan = planSeam(frames, params.regenerate);
    const { rolled, known, mask } = await seamConditionGraph.run(context, {
      video: tensor,
      order: plan.order,
      keep: plan.keep,
    });
    context.progress(1);
    return {
      conditioning: { kind: 'conditioning', mode: 'loop-seam', video: known, mask },
      video: { kind: 'video', tensor: rolled, fps },
    };
  },
});

/** Where the seam goes and which frames the sampler regenerates, for a clip of `frames` frames. */
export interface SeamPlan {
  /** Source frame of each output frame: the clip rolled by half its length. */
  readonly order: readonly number[];
  /** Per output frame, 1 if it is kept as it is, 0 if the sampler regenerates it. */
  readonly keep: readonly number[];
  /** Output index of the first frame after the old seam (the old frame 0). */
  readonly seamAt: number;
}

/**
 * Rolls the clip by half its length, which moves the loop's seam (old last frame → old first frame) into
 * the middle, where a sampler can regenerate the `regenerate` frames around it with known frames on both
 * sides. The rolled clip's own wrap (last → first) is then an ordinary step of the original clip.
 */
export function planSeam(frames: number, regenerate: number): SeamPlan {
  const shift = Math.floor(frames / 2);
  const order = Array.from({ length: frames }, (_, i) => (i + shift) % frames);
  const seamAt = frames - shift;
  const start = seamAt - Math.ceil(regenerate / 2);
  const keep = Array.from({ length: frames }, (_, i) => (i >= start && i < start + regenerate ? 0 : 1));
  return { order, keep, seamAt };
}

/**
 * Inputs: `video` [B, 3, N, H, W]; `order` int64 [N] (source frame per output frame); `keep` [N].
 * Outputs: `rolled` (the reordered clip), `known` (`rolled` zeroed where regenerated) and `mask`
 * [B, 1, N, H, W] (1 = keep), the shape of a `conditioning` value.
 */
export const seamConditionGraph = defineGraph('seamless-loop/seam-condition', (g) => {
  const video = g.input('video', 'float32', ['B', 3, 'N', 'H', 'W']);
  const order = g.input('order', 'int64', ['N']);
  const keep = g.input('keep', 'float32', ['N']);
  const rolled = g.gather(video, order, 2);
  const shape = g.shape(video);
  const maskShape = g.concat([g.slice(shape, [0], [1]), g.ints([1]), g.slice(shape, [2], [5])], 0); // [B, 1, N, H, W]
  const mask = g.expand(g.reshape(keep, [1, 1, -1, 1, 1]), maskShape);
  return { rolled, known: g.mul(rolled, mask), mask };
});
