/** Numeric comparisons for tensor data, with messages that point at the first difference. */

/** The largest absolute difference between two arrays of the same length (throws when lengths differ). */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    // NaN compares false with everything: count it as the worst possible difference.
    worst = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(worst, diff);
  }
  return worst;
}

/** Throws unless every element of `actual` is within `tolerance` of `expected`, naming the first that is not. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance)) {
      throw new Error(`element ${i}: ${actual[i]} ≠ expected ${expected[i]} (tolerance ${tolerance})`);
    }
  }
}
