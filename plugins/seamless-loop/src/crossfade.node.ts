import { defineGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';

/**
 * **Seamless Loop (cross-fade)** (`seamless-loop/crossfade`): makes a clip loop without a visible jump.
 * The last `overlap` frames are dissolved into the first `overlap`, and the result is `overlap` frames
 * shorter: it starts on the old frame N−K (which naturally follows the new last frame, N−K−1), dissolves
 * into the clip's own start over K frames, and plays on untouched to frame N−K−1. Played on repeat, the
 * wrap from the last frame to the first is an ordinary step of the clip.
 *
 * Needs N ≥ 2K (the head and tail must not overlap). Best on clips whose start and end look alike
 * (a moving camera over similar ground, water, fire); on very different ends the dissolve shows as a
 * short double exposure, which a longer overlap and the smooth curve soften.
 */
export const crossfadeNode = defineNode({
  type: 'seamless-loop/crossfade',
  version: 1,
  title: 'Seamless Loop (cross-fade)',
  category: 'video/loop',
  description:
    'Makes a clip loop without a jump by dissolving its last frames into its first; the result is `overlap` frames shorter.',
  params: Type.Object({
    overlap: Type.Integer({
      default: 4,
      minimum: 1,
      maximum: 1000,
      description: 'Frames to dissolve (K); the output has K fewer frames. At most half the clip.',
    }),
    curve: Type.Union([Type.Literal('linear'), Type.Literal('smooth')], {
      default: 'smooth',
      description: 'Dissolve speed: linear, or smooth (eases in and out).',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  // The looped video, `overlap` frames shorter, twice while the graph returns it, and the K weights.
  memory({ params, inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const [b, c, frames, h, w] = d as [number, number, number, number, number];
    const looped = [b, c, Math.max(0, frames - params.overlap), h, w];
    const bytes = looped.reduce((n, x) => n * x, 4);
    return { outputs: { video: { dims: looped, dtype: 'float32' } }, scratchBytes: bytes + 4 * params.overlap };
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5) {
      throw new KinegraphError(
        'INVALID_INPUT',
        `Seamless Loop needs a video [B, C, F, H, W]; got [${tensor.dims.join(', ')}].`,
        { nodeId: context.nodeId, hint: 'Connect a video output (a sampler, Load Video, ...).' },
      );
    }
    const frames = tensor.dims[2]!;
    if (2 * params.overlap > frames) {
      throw new KinegraphError(
        'PARAM_INVALID',
        `overlap ${params.overlap} is more than half of the clip's ${frames} frames.`,
        { nodeId: context.nodeId, hint: `Use an overlap from 1 to ${Math.floor(frames / 2)} for this clip.` },
      );
    }
    context.throwIfCancelled();
    const { looped } = await crossfadeGraph.run(context, {
      video: tensor,
      weights: fadeWeights(params.overlap, params.curve),
    });
    context.progress(1, { message: `${frames} \u2192 ${frames - params.overlap} frames` });
    return { video: { kind: 'video', tensor: looped, fps } };
  },
});

/** How the blend weight rises across the overlap. */
export type FadeCurve = 'linear' | 'smooth';

/**
 * Weights of the head frames in the K blended frames: `w[i] = curve(i / K)` for i = 0 … K−1. The first is
 * 0 (pure tail frame, so the loop's seam is a natural step of the clip); the next frame after the blend
 * (weight 1, the untouched frame K) continues the ramp.
 */
export function fadeWeights(overlap: number, curve: FadeCurve): Float32Array {
  return Float32Array.from({ length: overlap }, (_, i) => {
    const t = i / overlap;
    // Smoothstep eases in and out, so the speed of the dissolve has no kink where it starts and ends.
    return curve === 'smooth' ? t * t * (3 - 2 * t) : t;
  });
}

/**
 * The cross-fade as one ONNX graph. The overlap K is the length of the `weights` input, not a constant,
 * so one session serves every K and every curve.
 *
 * Inputs: `video` [B, C, N, H, W]; `weights` [K] (head weight per blended frame).
 * Output: `looped` [B, C, N − K, H, W]: frame i < K is `tail[i] + w[i] · (head[i] − tail[i])` with
 * `head = frames 0 … K−1`, `tail = frames N−K … N−1`; frames K … N−K−1 follow untouched.
 */
export const crossfadeGraph = defineGraph('seamless-loop/crossfade', (g) => {
  const video = g.input('video', 'float32', ['B', 'C', 'N', 'H', 'W']);
  const weights = g.input('weights', 'float32', ['K']);
  const k = g.shape(weights); // int64 [1]
  const n = g.slice(g.shape(video), [2], [3]); // int64 [1]
  const nMinusK = g.sub(n, k);
  const head = g.slice(video, [0], k, [2]);
  const tail = g.slice(video, nMinusK, n, [2]);
  const middle = g.slice(video, k, nMinusK, [2]);
  const w = g.reshape(weights, [1, 1, -1, 1, 1]);
  const blended = g.add(tail, g.mul(w, g.sub(head, tail)));
  return { looped: g.concat([blended, middle], 2) };
});
