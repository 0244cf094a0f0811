/**
 * Sampler updates as coefficients. For a v-prediction model every supported sampler's step is a linear
 * combination of tensors already on the device:
 *
 *   x' = cx·x + cv·v + cz·z + cp·x0_prev,   and (DPM++ 2M) x0 = α·x − σ·v is kept for the next step.
 *
 * The coefficients are computed here in float64, once per step, and the combination runs as a small ONNX
 * graph in the inference worker, so a sampling loop never moves a video into JavaScript. The math follows
 * the training code's reference samplers (training/sample.py) term by term.
 */

/** Sampler names as users pick them. */
export const SAMPLERS = ['ddim', 'dpmpp-2m', 'euler'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** One step's coefficients. */
export interface StepCoefficients {
  /** Timestep of the model call (its `t` input). */
  readonly t: number;
  /** Timestep the step goes to; -1 means the clean video. */
  readonly tPrev: number;
  readonly cx: number;
  readonly cv: number;
  /** Fresh-noise weight (DDIM with eta > 0). */
  readonly cz: number;
  /** Weight of the previous step's x0 (DPM++ 2M). */
  readonly cp: number;
  /** √ᾱ_t and √(1−ᾱ_t): x0 = alpha·x − sigma·v, for previews and DPM++'s history. */
  readonly alpha: number;
  readonly sigma: number;
}

/** Coefficients of every step of a sampling run over the given descending timesteps. */
export function samplerCoefficients(
  sampler: SamplerName,
  eta: number,
  alphasCumprod: Float64Array,
  steps: readonly number[],
): StepCoefficients[] {
  const ac = (t: number) => (t < 0 ? 1 : alphasCumprod[t]!);
  const out: StepCoefficients[] = [];
  let prevH: number | undefined;
  for (let i = 0; i < steps.length; i++) {
    const t = steps[i]!;
    const tPrev = i + 1 < steps.length ? steps[i + 1]! : -1;
    const a = ac(t);
    const ap = ac(tPrev);
    const alpha = Math.sqrt(a);
    const sigma = Math.sqrt(1 - a);
    const alphaPrev = Math.sqrt(ap);
    const sigmaPrev = Math.sqrt(1 - ap);
    let cx: number;
    let cv: number;
    let cz = 0;
    let cp = 0;
    if (sampler === 'ddim') {
      // x' = √a'·x0 + √(1−a'−s²)·eps + s·z, with x0 = αx − σv and eps = σx + αv.
      const s = eta > 0 && tPrev >= 0 ? eta * Math.sqrt((1 - ap) / (1 - a)) * Math.sqrt(1 - a / ap) : 0;
      const c = Math.sqrt(Math.max(1 - ap - s * s, 0));
      cx = alphaPrev * alpha + c * sigma;
      cv = -alphaPrev * sigma + c * alpha;
      cz = s;
    } else if (sampler === 'euler') {
      // Euler on the probability-flow ODE in x~ = x/α with noise level s = σ/α.
      const s = sigma / alpha;
      const sPrev = sigmaPrev / alphaPrev;
      const k = (sPrev - s) / s;
      cx = alphaPrev * (1 / alpha + k * (1 / alpha - alpha));
      cv = alphaPrev * k * sigma;
    } else if (tPrev < 0) {
      // DPM++ 2M's last step lands on x0 itself.
      cx = alpha;
      cv = -sigma;
    } else {
      const h = Math.log(alphaPrev / sigmaPrev) - Math.log(alpha / sigma);
      let c1 = 1;
      let c2 = 0;
      if (prevH !== undefined) {
        const r = prevH / h;
        c1 = 1 + 1 / (2 * r);
        c2 = -1 / (2 * r);
      }
      prevH = h;
      const e = Math.expm1(-h);
      cx = sigmaPrev / sigma - alphaPrev * e * c1 * alpha;
      cv = alphaPrev * e * c1 * sigma;
      cp = -alphaPrev * e * c2;
    }
    out.push({ t, tPrev, cx, cv, cz, cp, alpha, sigma });
  }
  return out;
}

/** Whether the sampler needs the previous step's x0 kept on the device. */
export function needsHistory(sampler: SamplerName): boolean {
  return sampler === 'dpmpp-2m';
}
