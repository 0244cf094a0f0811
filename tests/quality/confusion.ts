/**
 * Per-value breakdown of one attribute: for every value a prompt asked for (say motion "left"), how many
 * clips showed each value the analysis measured. The split-level accuracies say how often the model is
 * right; this says where it is wrong (translations against size changes, squares drawn as circles), which is
 * what decides the next training change.
 */

/** One attribute's outcome in one clip: what the prompt asked for and what the clip showed (null: no object). */
export interface AttributeOutcome {
  readonly asked: string;
  readonly got: string | null;
}

/** Counts for one asked value. `got` maps a measured value ("none" for no object) to its clip count. */
export interface ConfusionRow {
  readonly asked: string;
  readonly n: number;
  readonly correct: number;
  readonly got: Readonly<Record<string, number>>;
}

/** The measured value's name in tables when no object was found. */
export const NONE = 'none';

/**
 * Rows in the order of `values` (the attribute's vocabulary), one per asked value that occurs; a measured
 * value outside the vocabulary still counts under its own name.
 */
export function confusion(outcomes: readonly AttributeOutcome[], values: readonly string[]): ConfusionRow[] {
  const rows: ConfusionRow[] = [];
  for (const asked of values) {
    const mine = outcomes.filter((o) => o.asked === asked);
    if (!mine.length) continue;
    const got: Record<string, number> = {};
    for (const o of mine) {
      const k = o.got ?? NONE;
      got[k] = (got[k] ?? 0) + 1;
    }
    rows.push({ asked, n: mine.length, correct: got[asked] ?? 0, got });
  }
  return rows;
}

/**
 * A markdown table: one row per asked value with its accuracy and the measured values, most frequent first
 * ("left: 4 / 8 · right 3 · still 1").
 */
export function confusionMarkdown(title: string, rows: readonly ConfusionRow[]): string[] {
  if (!rows.length) return [];
  const lines = [`| ${title} asked | clips | right | what the clips showed |`, '|---|---:|---:|---|'];
  for (const r of rows) {
    const shown = Object.entries(r.got)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ');
    lines.push(`| ${r.asked} | ${r.n} | ${((100 * r.correct) / r.n).toFixed(0)}% | ${shown} |`);
  }
  return lines;
}
