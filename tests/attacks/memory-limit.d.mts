/** See memory-limit.mjs. */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
export interface LimitedProcess {
  child: ChildProcess;
  mechanism: string;
  limitBytes: number | undefined;
  rss(): number;
  peak(): number;
  resetPeak(): void;
  oomKills(): number;
  removeGroup(): void;
}
export function makeCgroup(
  name: string,
  limitBytes: number,
): { mechanism: string; dir: string; remove(): void } | undefined;
export function spawnLimited(
  command: string,
  args: string[],
  options: SpawnOptions,
  limitBytes: number,
): LimitedProcess;
