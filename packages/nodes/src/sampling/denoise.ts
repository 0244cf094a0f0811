import type { NodeContext, TensorHandle } from '@kinegraph/core/sdk';
import type { SamplerName, StepCoefficients } from './coefficients.js';
import { updateGraph } from './step-graphs.js';

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
   * The model call at timestep t: returns its raw prediction, [cond; uncond] stacked on the batch axis when
   * guided. The loop releases it after the update.
   */
  predict(x: TensorHandle, t: number, step: number): Promise<TensorHandle>;
  /** Fresh N(0,1) noise like x, for DDIM with eta > 0 (called only when a step needs it). */
  noise?(step: number): Promise<TensorHandle>;
  /** Called after each step with the predicted clean sample (valid only during the call). */
  onStep?(step: number, x0: TensorHandle): Promise<void> | void;
}

/**
 * Runs a sampler over all its steps with every tensor kept in the inference worker: per step one model call
 * and one fused update graph (guidance mix + sampler update + x0). Intermediate states are released as
 * soon as they are replaced, so memory stays at a few copies of the video whatever the step count.
 */
export async function denoise(options: DenoiseOptions): Promise<TensorHandle> {
  const { context, coefficients } = options;
  const tensors = context.tensors;
  let x = options.start;
  let history: TensorHandle | undefined;
  const needsHistory = options.sampler === 'dpmpp-2m';
  try {
    for (let step = 0; step < coefficients.length; step++) {
      context.throwIfCancelled();
      const c = coefficients[step]!;
      // Sent before the model call so its round trip to the worker overlaps the call (the worker queues it).
      // A failure of the model call leaves it to the node's scoped store, which frees what the node made.
      const kSent = tensors.upload(Float32Array.of(options.guidance ?? 1, c.cx, c.cv, c.cz, c.cp, c.alpha, -c.sigma), [7], 'float32');
      kSent.catch(() => undefined);
      const pred = await options.predict(x, c.t, step);
      const noise = c.cz !== 0 && options.noise ? await options.noise(step) : undefined;
      const useHistory = needsHistory && c.cp !== 0 && history !== undefined;
      const graph = updateGraph({ guided: options.guidance !== undefined, noise: noise !== undefined, history: useHistory });
      const model = await tensors.loadModel(graph.bytes);
      const k = await kSent;
      const feeds: Record<string, TensorHandle> = { pred, x, k };
      if (noise) feeds.z = noise;
      if (useHistory) feeds.p = history!;
      const out = await tensors.run(model, feeds);
      for (const used of [pred, k, noise, x]) if (used) tensors.release(used);
      x = out.x_next!;
      if (options.onStep) await options.onStep(step, out.x0!);
      if (history) tensors.release(history);
      history = out.x0;
      context.progress((step + 1) / coefficients.length);
    }
    return x;
  } catch (error) {
    tensors.release(x);
    throw error;
  } finally {
    if (history) tensors.release(history);
  }
}
