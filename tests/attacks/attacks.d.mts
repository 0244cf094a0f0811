/** See attacks.mjs. */
export const LIMIT_BYTES: number;
export const ATTACKS: { name: string; expect: string[] }[];
export interface AttackRow {
  attack: string;
  answers: string[];
  expected: string[];
  ok: boolean;
  peakBytes: number;
  baselineBytes: number;
  afterBytes: number;
  legitimate: string;
  alive: boolean;
  ms: number;
}
export function runAttacks(options?: { only?: string[]; onRow?: (row: AttackRow) => void }): Promise<{
  rows: AttackRow[];
  mechanism: string;
  limitBytes: number | undefined;
  warm: string;
  baseline: number;
  oomKills: number;
}>;
export function matches(got: string[], expected: string[]): boolean;
