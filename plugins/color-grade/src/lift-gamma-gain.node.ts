import type { BuiltGraph, NodeContext, TensorHandle } from '@kinegraph/core/sdk';
import { buildGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';

/** Rec. 709 luma weights: saturation is scaled around this grey. */
export const LUMA = [0.2126, 0.7152, 0.0722] as const;

/** The grade's values, as the graph takes them (per channel R, G, B). */
export interface GradeValues {
  readonly lift: readonly [number, number, number];
  readonly gamma: readonly [number, number, number];
  readonly gain: readonly [number, number, number];
  readonly saturation: number;
  readonly mix: number;
}

let cached: BuiltGraph | undefined;

/**
 * The grade as one ONNX graph. Every param is a graph *input*, not a baked constant, so a single inference
 * session serves every setting (the store pools sessions by model bytes): dragging a slider in the editor
 * re-runs the graph, never rebuilds or reloads it.
 *
 * Inputs: `video` [B, 3, F, H, W] in [-1, 1]; `lift`, `gamma`, `gain` [3]; `saturation`, `mix` scalars.
 * Output: `graded`, same shape, in [-1, 1].
 */
export function liftGammaGainGraph(): BuiltGraph {
  cached ??= buildGraph('color-grade/lift-gamma-gain', (g) => {
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
    g.output('graded', g.sub(g.mul(g.clip(mixed, 0, 1), 2), 1));
  });
  return cached;
}

/**
 * Runs the lift/gamma/gain graph on a video tensor, on the store's device. Returns a new handle owned by
 * the caller; the parameter tensors it uploads are released before it returns, even when the run fails.
 */
export async function applyLiftGammaGain(
  context: Pick<NodeContext, 'tensors' | 'signal'>,
  video: TensorHandle,
  values: GradeValues,
): Promise<TensorHandle> {
  const { tensors } = context;
  const model = await tensors.loadModel(liftGammaGainGraph().bytes);
  const params: Record<string, TensorHandle> = {};
  try {
    params.lift = await tensors.upload(Float32Array.from(values.lift), [3]);
    params.gamma = await tensors.upload(Float32Array.from(values.gamma), [3]);
    params.gain = await tensors.upload(Float32Array.from(values.gain), [3]);
    params.saturation = await tensors.upload(Float32Array.of(values.saturation), []);
    params.mix = await tensors.upload(Float32Array.of(values.mix), []);
    const out = await tensors.run(model, { video, ...params }, ['graded'], context.signal);
    return out.graded!;
  } finally {
    for (const handle of Object.values(params)) tensors.release(handle);
  }
}

const rgb = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Array(Type.Number({ minimum, maximum }), {
    minItems: 3,
    maxItems: 3,
    default: [defaultValue, defaultValue, defaultValue],
    description,
  });

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
  migrate: {
    // v1 → v2: master values became per-channel triples.
    1: ({ params, inputs }) => {
      const repeat = (value: unknown, fallback: number) => {
        const v = typeof value === 'number' ? value : fallback;
        return [v, v, v];
      };
      return {
        params: {
          ...params,
          lift: repeat(params.lift, 0),
          gamma: repeat(params.gamma, 1),
          gain: repeat(params.gain, 1),
        },
        inputs,
      };
    },
  },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw new KinegraphError(
        'INVALID_INPUT',
        `Lift / Gamma / Gain needs an RGB video [B, 3, F, H, W]; got [${tensor.dims.join(', ')}].`,
        {
          nodeId: context.nodeId,
          hint: 'Connect a video output (a sampler, Load Video, ...).',
        },
      );
    }
    const values: GradeValues = {
      lift: triple(params.lift),
      gamma: triple(params.gamma),
      gain: triple(params.gain),
      saturation: params.saturation,
      mix: params.mix,
    };
    context.throwIfCancelled();
    const graded = await applyLiftGammaGain(context, tensor, values);
    context.progress(1);
    return { video: { kind: 'video' as const, tensor: graded, fps } };
  },
});

/** Validation guarantees three numbers; this only gives the type checker the tuple. */
function triple(values: readonly number[]): [number, number, number] {
  return [values[0]!, values[1]!, values[2]!];
}
