import type { NodeContext, TensorHandle } from '@kinegraph/core/sdk';
import type { SamplerName, StepCoefficients } from './coefficients.js';
import { LoopState } from './loop-state.js';
import { inputGraph, updateGraph } from './step-graphs.js';

/**
 * How the model's input is made from the state x: conditioning channels appended on the channel axis, and
 * for guidance the whole stacked twice on the batch axis. Given to {@link denoise}, it lets the loop make
 * the next input in the same op-graph call as each step's update.
 */
export interface ModelInput {
  /** Channels appended after x (e.g. a conditioning video and its mask), if any. */
  readonly conditioning?: TensorHandle;
  /** Stack the input twice on the batch axis: the [cond; uncond] halves of guidance share it. */
  readonly duplicate: boolean;
}

/** What one run of the sampling loop needs. */
export interface DenoiseOptions {
  readonly context: NodeContext;
  readonly sampler: SamplerName;
  readonly coefficients: readonly StepCoefficients[];
  /** The starting state x_T (or the noised input for video-to-video); the loop takes ownership. */
  readonly start: TensorHandle;
  /** Guidance scale, or undefined when `predict` returns a single (unguided) prediction. */
  readonly guidance?: number;
  /**
   * How `predict`'s input is made from x. Without it `predict` gets x itself (and makes its own input);
   * with it, the loop makes the input and the first argument of `predict` is that input.
   */
  readonly input?: ModelInput;
  /**
   * The model call at timestep t on x (or, with {@link DenoiseOptions.input}, on the input made from x):
   * returns its raw prediction, [cond; uncond] stacked on the batch axis when guided. The loop releases
   * the prediction after the update and the input after the call.
   */
  predict(x: TensorHandle, t: number, step: number): Promise<TensorHandle>;
  /** Fresh N(0,1) noise like x, for DDIM with eta > 0 (called only when a step needs it). */
  noise?(step: number): Promise<TensorHandle>;
  /** Called after each step with the predicted clean sample (valid only during the call). */
  onStep?(step: number, x0: TensorHandle): Promise<void> | void;
}

/**
 * Runs a sampler over all its steps with every tensor kept in the inference worker: per step one model call
 * and one fused op graph (guidance mix + sampler update + x0, and with `input` the next model input).
 * Intermediate states are released as soon as they are replaced, so memory stays at a few copies of the
 * video whatever the step count.
 */
export async function denoise(options: DenoiseOptions): Promise<TensorHandle> {
  const { context, coefficients } = options;
  const tensors = context.tensors;
  const input = options.input;
  const conditioning = input?.conditioning;
  // x itself is the input when there is nothing to append or stack: no graph needed.
  const assemble =
    input && (conditioning !== undefined || input.duplicate)
      ? { conditioning: conditioning !== undefined, duplicate: input.duplicate }
      : undefined;
  const state = new LoopState(context, options.start, coefficients.length, options.onStep);
  const needsHistory = options.sampler === 'dpmpp-2m';
  try {
    if (assemble) {
      const first = inputGraph({ parts: conditioning ? 2 : 1, duplicate: assemble.duplicate });
      state.xin = (await first.run(context, { in0: state.x, in1: conditioning })).out;
    }
    for (let step = 0; step < coefficients.length; step++) {
      context.throwIfCancelled();
      const c = coefficients[step]!;
      // Sent before the model call so its round trip to the worker overlaps the call (the worker queues it).
      // A failure of the model call leaves it to the node's scoped store, which frees what the node made.
      const kSent = tensors.upload(
        Float32Array.of(options.guidance ?? 1, c.cx, c.cv, c.cz, c.cp, c.alpha, -c.sigma),
        [7],
        'float32',
      );
      kSent.catch(() => undefined);
      const pred = await options.predict(state.xin ?? state.x, c.t, step);
      if (state.xin) tensors.release(state.xin);
      state.xin = undefined;
      const noise = c.cz !== 0 && options.noise ? await options.noise(step) : undefined;
      const useHistory = needsHistory && c.cp !== 0 && state.history !== undefined;
      const last = step === coefficients.length - 1;
      const update = updateGraph({
        guided: options.guidance !== undefined,
        noise: noise !== undefined,
        history: useHistory,
        ...(assemble && !last ? { assemble } : {}),
      });
      const k = await kSent;
      const out = await update.run(context, {
        pred,
        x: state.x,
        k,
        z: noise,
        p: useHistory ? state.history : undefined,
        c: assemble?.conditioning && !last ? conditioning : undefined,
      });
      await state.advance(step, out, [pred, k, noise, state.x]);
    }
    return state.x;
  } catch (error) {
    state.fail();
    throw error;
  } finally {
    state.dispose();
  }
}
