import type { ModelHandle, NodeContext, TensorHandle } from '@kinegraph/core/sdk';
import type { SamplerName, StepCoefficients } from './coefficients.js';
import type { ModelInput } from './denoise.js';
import { LoopState } from './loop-state.js';
import { inputGraph, type ModelStepVariant, modelStepGraph } from './step-graphs.js';

/** What one run of the model-fused sampling loop needs. */
export interface FusedDenoiseOptions {
  readonly context: NodeContext;
  readonly sampler: SamplerName;
  readonly coefficients: readonly StepCoefficients[];
  /** The starting state x_T (or the noised input for video-to-video); the loop takes ownership. */
  readonly start: TensorHandle;
  /** Guidance scale, or undefined for a single (unguided) prediction per call. */
  readonly guidance?: number;
  /** How the model input is made from the state: conditioning channels, stacked twice when guided. */
  readonly input: ModelInput;
  /**
   * The denoiser loaded with {@link modelStepGraph} appended for {@link fusedStepVariant} of these options,
   * linked with {@link fusedStepLinks}.
   */
  readonly model: ModelHandle;
  /** The model's input names: the assembled input (x) and the timestep (a float32 [rows] tensor). */
  readonly names: { readonly input: string; readonly timestep: string };
  /** Model inputs that are the same at every step (the text embeddings); the loop does not release them. */
  readonly feeds: Readonly<Record<string, TensorHandle>>;
  /** Fresh N(0,1) noise like x, for DDIM with eta > 0 (called only when a step needs it). */
  noise?(step: number): Promise<TensorHandle>;
  /** Called after each step with the predicted clean sample (valid only during the call). */
  onStep?(step: number, x0: TensorHandle): Promise<void> | void;
}

/** The step graph a fused loop with these options needs appended to its model. */
export function fusedStepVariant(options: {
  guidance?: number;
  input: ModelInput;
  sampler: SamplerName;
  eta: number;
}): ModelStepVariant {
  return {
    guided: options.guidance !== undefined,
    noise: options.sampler === 'ddim' && options.eta > 0,
    conditioning: options.input.conditioning !== undefined,
  };
}

/** `appendGraph` links of a model step: `pred` from the model's output, `xin` from its input. */
export function fusedStepLinks(modelInput: string, modelOutput: string): Record<string, string> {
  return { pred: modelOutput, xin: modelInput };
}

/**
 * Runs a sampler with one call per step: the model with the update step appended to it computes the
 * prediction, the guided update, x0 and the next call's input in one ONNX Runtime run, so no op-graph call
 * or worker round trip sits between two model calls. Same results as {@link denoise} with `input`.
 */
export async function denoiseFused(options: FusedDenoiseOptions): Promise<TensorHandle> {
  const { context, coefficients, input } = options;
  const tensors = context.tensors;
  const guided = options.guidance !== undefined;
  const rows = (options.start.dims[0] ?? 1) * (guided ? 2 : 1);
  // Each step's scalars (the coefficient vector k and the timestep tensor) are sent one step ahead, so their
  // uploads are answered while the model runs and the next call goes out as soon as this one returns.
  const scalars = (step: number) => {
    const c = coefficients[step]!;
    // The previous-x0 term is DPM++ 2M's; at step 0 there is no previous x0 (p is fed x, with weight 0).
    const cp = options.sampler === 'dpmpp-2m' && step > 0 ? c.cp : 0;
    const sent = Promise.all([
      tensors.upload(Float32Array.of(options.guidance ?? 1, c.cx, c.cv, c.cz, cp, c.alpha, -c.sigma), [7], 'float32'),
      tensors.upload(new Float32Array(rows).fill(c.t), [rows], 'float32'),
    ]);
    sent.catch(() => undefined);
    return sent;
  };
  const state = new LoopState(context, options.start, coefficients.length, options.onStep);
  // A failed step leaves tensors sent ahead to the node's scoped store, which frees what the node made.
  let ahead = coefficients.length ? scalars(0) : undefined;
  try {
    const first = inputGraph({ parts: input.conditioning ? 2 : 1, duplicate: guided });
    state.xin = (await first.run(context, { in0: state.x, in1: input.conditioning })).out;
    for (let step = 0; step < coefficients.length; step++) {
      context.throwIfCancelled();
      const c = coefficients[step]!;
      const mine = ahead!;
      ahead = step + 1 < coefficients.length ? scalars(step + 1) : undefined;
      const noise = c.cz !== 0 && options.noise ? await options.noise(step) : undefined;
      const [k, tt] = await mine;
      const feeds: Record<string, TensorHandle> = {
        ...options.feeds,
        [options.names.input]: state.xin!,
        [options.names.timestep]: tt,
        k,
        p: state.history ?? state.x,
      };
      // A step without fresh noise (cz = 0, e.g. DDIM's last) still feeds a noise-taking model something.
      if (noise) feeds.z = noise;
      else if (options.model.inputNames.includes('z')) feeds.z = state.x;
      if (input.conditioning) feeds.c = input.conditioning;
      const out = await tensors.run(options.model, feeds, ['x_next', 'x0', 'next_in']);
      await state.advance(step, out, [k, tt, noise, state.xin, state.x]);
    }
    return state.x;
  } catch (error) {
    state.fail();
    throw error;
  } finally {
    state.dispose();
    if (ahead)
      void ahead.then(
        (unused) => {
          for (const t of unused) tensors.release(t);
        },
        () => undefined,
      );
  }
}
