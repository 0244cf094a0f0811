/** Hostile files for the attack tests and bench: see crafted.mjs. */
export function gifBomb(side?: number, frames?: number): Uint8Array;
export function pngBomb(side?: number): Uint8Array;
export function maskRectWorkflow(
  frames?: number,
  side?: number,
): {
  format: string;
  nodes: Record<string, { type: string; version: number; params: Record<string, unknown> }>;
};
export function deepWorkflowText(depth: number): string;
