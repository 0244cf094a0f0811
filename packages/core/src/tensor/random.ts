/**
 * Deterministic Gaussian noise, generated in JS so that the same seed gives bit-identical noise on every
 * device and execution provider (GPU RNGs differ between vendors and drivers).
 *
 * Algorithm (stable: changing it changes every seeded result, so treat it as part of the file format):
 * - Keys: the seed (a safe non-negative integer) is split into its low and high 32 bits `lo`, `hi`;
 *   `k0 = mix32(lo ^ 0x9e3779b9)`, `k1 = mix32(k0 ^ mix32(hi ^ 0x85ebca6b))`.
 * - Counter-based uniform bits: `bits(i) = mix32(mix32((i + k0) mod 2³²) ^ k1)` for element counter `i`,
 *   where `mix32` is a bijective 32-bit integer mixer (xorshift-multiply rounds). Being counter-based,
 *   any element can be computed without generating the ones before it.
 * - Box–Muller on pairs: for pair p, `u1 = (bits(2p) + 1) / 2³²` ∈ (0, 1], `u2 = bits(2p+1) / 2³²`,
 *   `r = √(−2 ln u1)`; element 2p is `r·cos(2πu2)` and element 2p+1 is `r·sin(2πu2)`.
 * Values are rounded to float32. Not cryptographic.
 */
import { TensorError } from './errors.js';

const TWO_32 = 4294967296;

/** Bijective 32-bit mixer: two xorshift-multiply rounds (odd multipliers), good avalanche on counters. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * `count` standard-normal samples for `seed` (see the module comment for the exact algorithm).
 * `offset` skips that many elements (must be even, so pairs stay aligned): generating [0, n) at once or
 * [0, k) and [k, n) separately gives the same values.
 */
export function gaussianNoise(count: number, seed: number, offset = 0): Float32Array {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new TensorError('INVALID_ARGUMENT', `randn: seed must be a non-negative safe integer, got ${seed}`);
  }
  if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(offset) || offset < 0 || offset % 2 !== 0) {
    throw new TensorError('INVALID_ARGUMENT', `randn: count must be a non-negative integer and offset an even one`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_32) >>> 0;
  const k0 = mix32(lo ^ 0x9e3779b9);
  // k1 must not be mix32(k0): then counter 0 would hash to mix32(0) = 0, the most extreme sample, for every seed < 2³².
  const k1 = mix32(k0 ^ mix32(hi ^ 0x85ebca6b));
  const out = new Float32Array(count);
  for (let j = 0; j < count; j += 2) {
    const i = offset + j;
    const b1 = mix32(mix32((i + k0) >>> 0) ^ k1);
    const b2 = mix32(mix32((i + 1 + k0) >>> 0) ^ k1);
    const r = Math.sqrt(-2 * Math.log((b1 + 1) / TWO_32));
    const theta = (2 * Math.PI * b2) / TWO_32;
    out[j] = r * Math.cos(theta);
    if (j + 1 < count) out[j + 1] = r * Math.sin(theta);
  }
  return out;
}
