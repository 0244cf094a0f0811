/**
 * The noise schedule of a model pack, recomputed in float64 exactly as the training code does, so the
 * runtime's samplers agree with the reference ones.
 */

/** The `schedule` entry of a model pack manifest. */
export interface ScheduleSpec {
  readonly type: 'cosine' | string;
  readonly num_train_timesteps: number;
  readonly cosine_s?: number;
  readonly max_beta?: number;
  /** Explicit betas; when present they are used as given. */
  readonly betas?: readonly number[];
}

/** alphas_cumprod[t] for t = 0..T-1 (float64). */
export function alphasCumprod(spec: ScheduleSpec): Float64Array {
  const T = spec.num_train_timesteps;
  const betas =
    spec.betas?.length === T
      ? Float64Array.from(spec.betas)
      : cosineBetas(T, spec.cosine_s ?? 0.008, spec.max_beta ?? 0.999);
  if (spec.type !== 'cosine' && !spec.betas)
    throw new Error(`Unsupported noise schedule "${spec.type}": give its betas in the manifest.`);
  const out = new Float64Array(T);
  let product = 1;
  for (let i = 0; i < T; i++) {
    product *= 1 - betas[i]!;
    out[i] = product;
  }
  return out;
}

/** Cosine schedule (Nichol & Dhariwal 2021): beta_i = min(1 - f(i+1)/f(i), maxBeta). */
export function cosineBetas(T: number, s: number, maxBeta: number): Float64Array {
  const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = Math.min(1 - f(i + 1) / f(i), maxBeta);
  return betas;
}

/**
 * The timesteps a sampler visits, descending: round(linspace(T-1, 0, n)) with numpy's rounding (half to
 * even), so `steps = 7` visits 999, 832, 666, 500, 333, 166, 0 exactly like the reference.
 */
export function timesteps(T: number, n: number): number[] {
  if (n < 1) throw new Error('steps must be at least 1');
  if (n === 1) return [T - 1];
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(roundHalfEven(T - 1 - ((T - 1) * i) / (n - 1)));
  return out;
}

/**
 * The timesteps for SDEdit-style video-to-video: the tail of the full schedule starting at the noise
 * level `denoise` ∈ (0, 1]; `denoise = 1` is the full schedule.
 */
export function partialTimesteps(T: number, n: number, denoise: number): number[] {
  const all = timesteps(T, n);
  const keep = Math.max(1, Math.round(n * denoise));
  return all.slice(n - keep);
}

/** numpy.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (Math.abs(diff - 0.5) < 1e-9) return floor % 2 === 0 ? floor : floor + 1;
  return Math.round(x);
}
