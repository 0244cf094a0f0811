import { defineGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';

/**
 * **Lift / Gamma / Gain** (`color-grade/lift-gamma-gain`): the three-way colour corrector of every grading
 * suite, plus saturation and a mix with the original, per channel (R, G, B), on the device.
 *
 * On [0, 1] values: `y = clip(gain · (x + lift · (1 − x)), 0, 1) ^ (1 / gamma)`, then saturation around
 * Rec. 709 luma, then `x + mix · (y − x)`.
 *
 * Version 2 takes per-channel triples; version 1 took one master value each (`lift: 0.1`), and its
 * migration repeats that value for R, G and B, so saved v1 workflows load unchanged in look.
 */
export const liftGammaGainNode = defineNode({
  type: 'color-grade/lift-gamma-gain',
  version: 2,
  title: 'Lift / Gamma / Gain',
  category: 'color',
  description:
    'Grades a video: lift (blacks), gamma (mid-tones), gain (whites) per channel, saturation and mix, on the device.',
  params: Type.Object({
    lift: rgb(0, -1, 1, 'Raises (+) or lowers (−) the blacks, per channel R, G, B; 0 leaves them.'),
    gamma: rgb(1, 0.1, 10, 'Mid-tones: above 1 brightens, below 1 darkens, per channel; 1 leaves them.'),
    gain: rgb(1, 0, 4, 'Scales every value (mostly the whites), per channel; 1 leaves them.'),
    saturation: Type.Number({
      default: 1,
      minimum: 0,
      maximum: 4,
      description: '0 is greyscale, 1 unchanged, above 1 more colourful.',
    }),
    mix: Type.Number({
      default: 1,
      minimum: 0,
      maximum: 1,
      description: 'How much of the grade to apply: 0 returns the input, 1 the full grade.',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  // The graded video, twice while the graph returns it; its params are a few bytes.
  memory({ inputs }) {
    const d = inputs.video;
    if (d?.length !== 5) return undefined;
    const bytes = d.reduce((n, x) => n * x, 4);
    return { outputs: { video: { dims: [...d], dtype: 'float32' } }, scratchBytes: bytes + 64 };
  },
  migrate: {
    // v1 → v2: master values became per-channel triples.
    1: ({ params, inputs }) => ({
      params: {
        ...params,
        lift: repeat3(params.lift, 0),
        gamma: repeat3(params.gamma, 1),
        gain: repeat3(params.gain, 1),
      },
      inputs,
    }),
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw new KinegraphError(
        'INVALID_INPUT',
        `Lift / Gamma / Gain needs an RGB video [B, 3, F, H, W]; got [${tensor.dims.join(', ')}].`,
        { nodeId: context.nodeId, hint: 'Connect a video output (a sampler, Load Video, ...).' },
      );
    }
    context.throwIfCancelled();
    // Params go in as JS numbers: the graph helper uploads them and frees them after the run.
    const { graded } = await liftGammaGainGraph.run(context, {
      video: tensor,
      lift: params.lift,
      gamma: params.gamma,
      gain: params.gain,
      saturation: params.saturation,
      mix: params.mix,
    });
    context.progress(1);
    return { video: { kind: 'video', tensor: graded, fps } };
  },
});

/** Rec. 709 luma weights: saturation is scaled around this grey. */
export const LUMA = [0.2126, 0.7152, 0.0722] as const;

/**
 * The grade as one ONNX graph. Every param is a graph *input*, not a baked constant, so a single inference
 * session serves every setting: dragging a slider in the editor re-runs the graph, never rebuilds or
 * reloads it.
 *
 * Inputs: `video` [B, 3, F, H, W] in [-1, 1]; `lift`, `gamma`, `gain` [3]; `saturation`, `mix` scalars.
 * Output: `graded`, same shape, in [-1, 1].
 */
export const liftGammaGainGraph = defineGraph('color-grade/lift-gamma-gain', (g) => {
  const video = g.input('video', 'float32', ['B', 3, 'F', 'H', 'W']);
  // Per-channel values broadcast over [B, 3, F, H, W] once shaped [1, 3, 1, 1, 1].
  const channel = (name: string) => g.reshape(g.input(name, 'float32', [3]), [1, 3, 1, 1, 1]);
  const lift = channel('lift');
  const gamma = channel('gamma');
  const gain = channel('gain');
  const saturation = g.input('saturation', 'float32', []);
  const mix = g.input('mix', 'float32', []);

  // The grade is defined on [0, 1] (0 black, 1 white), the way colourists think of it.
  const x = g.mul(g.add(video, 1), 0.5);
  // Lift raises (or lowers) the blacks and leaves white where it is; gain scales everything.
  const lifted = g.mul(g.add(x, g.mul(lift, g.sub(1, x))), gain);
  // Clip before Pow: a negative base to a fractional power is NaN.
  const graded = g.pow(g.clip(lifted, 0, 1), g.div(1, gamma));
  // Saturation scales each pixel's distance from its own luma (1 keeps, 0 is greyscale).
  const weights = g.constant([...LUMA], [1, 3, 1, 1, 1]);
  const luma = g.op('ReduceSum', [g.mul(graded, weights), g.ints([1])], { keepdims: { i: 1 } })[0]!;
  const saturated = g.add(luma, g.mul(saturation, g.sub(graded, luma)));
  // Mix blends with the untouched picture (1 is the full grade).
  const mixed = g.add(x, g.mul(mix, g.sub(saturated, x)));
  return { graded: g.sub(g.mul(g.clip(mixed, 0, 1), 2), 1) };
});

/** A per-channel (R, G, B) param: three numbers in [minimum, maximum]. */
function rgb(defaultValue: number, minimum: number, maximum: number, description: string) {
  return Type.Array(Type.Number({ minimum, maximum }), {
    minItems: 3,
    maxItems: 3,
    default: [defaultValue, defaultValue, defaultValue],
    description,
  });
}

/** A v1 master value as a v2 triple (the default when the v1 node left it out). */
function repeat3(value: unknown, fallback: number): [number, number, number] {
  const v = typeof value === 'number' ? value : fallback;
  return [v, v, v];
}
