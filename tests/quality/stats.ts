/**
 * 95% confidence intervals for the quality figures, so that a target counts as met only when the interval's
 * lower bound clears it (upper bound, for targets of the "at most" kind):
 *   proportions (accuracies)            Wilson score interval
 *   means over few independent units    Student t interval (the conditioning metrics: one value per source)
 *   means and ratios over many clips    percentile bootstrap over clips (frames of one clip are not
 *                                       independent, so clips, not frames, are resampled)
 */

/** A point estimate with its 95% interval. */
export interface Interval {
  readonly value: number;
  readonly lo: number;
  readonly hi: number;
}

/** Two-sided 95% normal quantile. */
export const Z95 = 1.959963984540054;

/** Wilson score interval of k successes in n trials; NaNs for n = 0. */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return { value: NaN, lo: NaN, hi: NaN };
  if (k < 0 || k > n) throw new Error(`wilson: ${k} successes in ${n} trials`);
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Exact bounds at the edges (rounding could leave 1e-17 outside [0, 1]).
  return { value: p, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half) };
}

/** 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (table to 30, then 1.96 + 2.4/df, < 0.1% off). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  const d = Math.floor(df);
  return d <= 30 ? T975[d - 1]! : Z95 + 2.4 / d;
}

/** Mean with its Student t 95% interval (independent samples); the interval is NaN for fewer than 2. */
export function tInterval(values: readonly number[]): Interval {
  const n = values.length;
  if (!n) return { value: NaN, lo: NaN, hi: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { value: mean, lo: NaN, hi: NaN };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = tQuantile975(n - 1) * (sd / Math.sqrt(n));
  return { value: mean, lo: mean - half, hi: mean + half };
}

/** Deterministic uniform [0, 1) generator (mulberry32), so a report's intervals reproduce exactly. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface BootstrapOptions {
  readonly resamples?: number;
  readonly seed?: number;
}

/**
 * Ratio of sums Σnum / Σden over units (clips), with a percentile bootstrap interval that resamples units:
 * e.g. the share of frames showing the asked shape, where each clip contributes its frame counts. With all
 * denominators 1 it is the mean of `num`. NaNs when no unit has a positive denominator.
 */
export function bootstrapRatio(
  num: readonly number[],
  den: readonly number[],
  { resamples = 2000, seed = 1 }: BootstrapOptions = {},
): Interval {
  const n = num.length;
  if (n !== den.length) throw new Error(`bootstrapRatio: ${n} numerators, ${den.length} denominators`);
  const total = (idx: (i: number) => number) => {
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      const j = idx(i);
      a += num[j]!;
      b += den[j]!;
    }
    return b > 0 ? a / b : NaN;
  };
  const value = total((i) => i);
  if (!Number.isFinite(value)) return { value: NaN, lo: NaN, hi: NaN };
  const rand = seededRandom(seed);
  const stats: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const s = total(() => Math.floor(rand() * n));
    if (Number.isFinite(s)) stats.push(s);
  }
  stats.sort((a, b) => a - b);
  return { value, lo: quantile(stats, 0.025), hi: quantile(stats, 0.975) };
}

/** Mean over units with a percentile bootstrap interval. */
export function bootstrapMean(values: readonly number[], options?: BootstrapOptions): Interval {
  return bootstrapRatio(
    values,
    values.map(() => 1),
    options,
  );
}

/** Linear-interpolated quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (!n) return NaN;
  const pos = (n - 1) * q;
  const i = Math.floor(pos);
  const frac = pos - i;
  return i + 1 < n ? sorted[i]! * (1 - frac) + sorted[i + 1]! * frac : sorted[n - 1]!;
}
