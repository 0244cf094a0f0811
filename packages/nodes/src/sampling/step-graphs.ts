import { defineGraph, defineGraphFamily } from '@kinegraph/core/sdk';

/**
 * The small ONNX graphs a sampling loop runs between model calls, defined once per shape of problem and
 * loaded once per store. Scalars arrive as a float32 coefficient vector, so one session serves every step.
 */

/** Which optional terms a step update has. */
export interface UpdateVariant {
  /** The model output holds [cond; uncond] halves to mix with the guidance scale. */
  readonly guided: boolean;
  /** A fresh-noise term (DDIM with eta > 0). */
  readonly noise: boolean;
  /** A previous-x0 term (DPM++ 2M). */
  readonly history: boolean;
  /**
   * Also output `next_in`, the next model call's input made from x_next as {@link inputGraph} makes it:
   * fused here, it saves one op-graph call and one worker round trip per step.
   */
  readonly assemble?: { readonly conditioning: boolean; readonly duplicate: boolean };
}

/**
 * One sampler step, fused: v = guided mix of the prediction (if guided), then
 *   x_next = cx·x + cv·v + cz·z + cp·x0_prev   and   x0 = α·x − σ·v,
 * and with `assemble`, next_in = x_next with `c` appended on the channel axis, stacked twice if duplicated.
 * Inputs: `pred`, `x`, [`z`], [`p`], [`c`], `k` = [scale, cx, cv, cz, cp, α, −σ] (float32 [7]).
 */
export const updateGraph = defineGraphFamily(
  (variant: UpdateVariant) => {
    const assemble = variant.assemble
      ? `-in${variant.assemble.conditioning ? 'c' : ''}${variant.assemble.duplicate ? 'x2' : ''}`
      : '';
    return `kinegraph-sampler-update-${variant.guided ? 'g' : 'u'}${variant.noise ? 'z' : ''}${variant.history ? 'p' : ''}${assemble}`;
  },
  (g, variant) => {
    const pred = g.input('pred', 'float32');
    const x = g.input('x', 'float32');
    const z = variant.noise ? g.input('z', 'float32') : undefined;
    const p = variant.history ? g.input('p', 'float32') : undefined;
    const k = g.input('k', 'float32', [7]);
    const at = (i: number) => g.gather(k, [i]);
    let v = pred;
    if (variant.guided) {
      const [cond, uncond] = g.split(pred, 0, 2);
      v = g.add(uncond!, g.mul(at(0), g.sub(cond!, uncond!)));
    }
    let next = g.add(g.mul(at(1), x), g.mul(at(2), v));
    if (z) next = g.add(next, g.mul(at(3), z));
    if (p) next = g.add(next, g.mul(at(4), p));
    const x0 = g.add(g.mul(at(5), x), g.mul(at(6), v));
    if (!variant.assemble) return { x_next: next, x0, next_in: undefined };
    const joined = variant.assemble.conditioning ? g.concat([next, g.input('c', 'float32')], 1) : next;
    return { x_next: next, x0, next_in: variant.assemble.duplicate ? g.concat([joined, joined], 0) : joined };
  },
);

/** Which optional terms a model-fused step has (see {@link modelStepGraph}). */
export interface ModelStepVariant {
  /** The model output holds [cond; uncond] halves (and its input is stacked twice). */
  readonly guided: boolean;
  /** A fresh-noise term (DDIM with eta > 0). */
  readonly noise: boolean;
  /** The model input has conditioning channels after the state's (fed as `c`). */
  readonly conditioning: boolean;
}

/**
 * A sampler step to append to a denoiser model (core's `ModelOptions.appendGraph`), so that one session
 * call runs the model, the update and the next call's input. Link `pred` to the model's output and `xin`
 * to its input: the state x is read back from the input (first half when guided, the prediction's
 * channels), so the loop feeds no separate x. Inputs: `k` = [scale, cx, cv, cz, cp, α, −σ], `p` (previous
 * x0; any state-shaped tensor when cp = 0), [`z`], [`c`]. Outputs: `x_next`, `x0` and `next_in`.
 */
export const modelStepGraph = defineGraphFamily(
  (variant: ModelStepVariant) =>
    `kinegraph-model-step-${variant.guided ? 'g' : 'u'}${variant.noise ? 'z' : ''}${variant.conditioning ? 'c' : ''}`,
  (g, variant) => {
    const pred = g.input('pred', 'float32');
    const xin = g.input('xin', 'float32');
    const k = g.input('k', 'float32', [7]);
    const p = g.input('p', 'float32');
    const z = variant.noise ? g.input('z', 'float32') : undefined;
    const c = variant.conditioning ? g.input('c', 'float32') : undefined;
    const at = (i: number) => g.gather(k, [i]);
    const rows = variant.guided ? g.split(xin, 0, 2)[0]! : xin;
    const channels = g.slice(g.shape(pred), [1], [2]);
    const x = variant.conditioning ? g.slice(rows, [0], channels, [1]) : rows;
    let v = pred;
    if (variant.guided) {
      const [cond, uncond] = g.split(pred, 0, 2);
      v = g.add(uncond!, g.mul(at(0), g.sub(cond!, uncond!)));
    }
    let next = g.add(g.add(g.mul(at(1), x), g.mul(at(2), v)), g.mul(at(4), p));
    if (z) next = g.add(next, g.mul(at(3), z));
    const x0 = g.add(g.mul(at(5), x), g.mul(at(6), v));
    const joined = c ? g.concat([next, c], 1) : next;
    return { x_next: next, x0, next_in: variant.guided ? g.concat([joined, joined], 0) : joined };
  },
);

/**
 * The denoiser's input: `parts` tensors concatenated on the channel axis (noisy state first, then
 * conditioning), and for guidance the result stacked twice on the batch axis ([cond; uncond] share it).
 */
export const inputGraph = defineGraphFamily(
  ({ parts, duplicate }: { readonly parts: number; readonly duplicate: boolean }) =>
    `kinegraph-denoiser-input-${parts}${duplicate ? '-x2' : ''}`,
  (g, { parts, duplicate }) => {
    const inputs = Array.from({ length: parts }, (_, i) => g.input(`in${i}`, 'float32'));
    const joined = parts === 1 ? inputs[0]! : g.concat(inputs, 1);
    return { out: duplicate ? g.concat([joined, joined], 0) : joined };
  },
);

/** acc + the window's prediction padded into place along the frame axis: MultiDiffusion's sum. */
export const accumulateGraph = defineGraph('kinegraph-window-accumulate', (g) => {
  const acc = g.input('acc', 'float32');
  const w = g.input('w', 'float32');
  const pads = g.input('pads', 'int64', [10]);
  return { out: g.add(acc, g.op('Pad', [w, pads])[0]!) };
});

/** keep·known + (1 − keep)·x: pastes the known pixels back (final compositing for conditioned tasks). */
export const compositeGraph = defineGraph('kinegraph-composite-known', (g) => {
  const x = g.input('x', 'float32');
  const known = g.input('known', 'float32');
  const keep = g.input('keep', 'float32');
  return { out: g.add(g.mul(keep, known), g.mul(g.sub(g.scalar(1), keep), x)) };
});
