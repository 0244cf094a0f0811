/** Levenshtein distance, small-string version (names and ids, not documents). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

/**
 * The candidates closest to `input`, best first: those within a third of the input's length in edits,
 * or that contain the input's last path segment (so `text-encode` finds `kinegraph/text-encode`).
 */
export function didYouMean(input: string, candidates: Iterable<string>, max = 3): string[] {
  // Edit distance is quadratic: a pasted paragraph (or a 10 MB string) is not a typo of a name.
  if (input.length > 200) return [];
  const needle = input.toLowerCase();
  const tail = needle.split('/').pop() ?? needle;
  const scored: Array<[string, number]> = [];
  let checked = 0;
  for (const candidate of candidates) {
    // Bounded, so a typo in a 10,000-node workflow costs milliseconds, not seconds.
    if (++checked > 2000) break;
    const c = candidate.toLowerCase();
    const distance = Math.min(editDistance(needle, c), editDistance(tail, c.split('/').pop() ?? c) + 0.5);
    if (distance <= Math.max(2, Math.floor(needle.length / 3)) || (tail.length >= 3 && c.includes(tail)))
      scored.push([candidate, distance]);
  }
  return scored
    .sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]))
    .slice(0, max)
    .map(([c]) => c);
}

/** "a, b or c" for hints; long lists are cut after `max` items with a count of the rest. */
export function listOf(values: readonly string[], conjunction = 'or', max = 25): string {
  if (values.length > max) return `${values.slice(0, max).join(', ')} \u2026 (${values.length - max} more)`;
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} ${conjunction} ${values[values.length - 1]}`;
}
