/**
 * Arithmetic shared by the Lumiere nodes' memory declarations (`NodeDefinition.memory`). Every call of an
 * ONNX session (a model or an op graph) holds its outputs twice for a moment: ONNX Runtime's buffer and
 * the copy handed back. What a node declares is the most it holds at any moment of its `run`.
 */
import type { PackFacts } from '../../model/pack-facts.js';

/** Bytes of a float32 tensor of these dims. */
export function f32(...dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 4);
}

/** Bytes of the scalars a sampling step sends (its coefficients and timestep tensor, one step ahead too). */
export function stepScalarBytes(rows: number): number {
  return 2 * (7 * 4 + rows * 4);
}

/**
 * The text embeddings of a guided sampler: [positive; negative] stacked, held while it samples, and the
 * negative prompt encoded when none is connected (its token ids, and its embedding, held too). On top, the
 * stack's copy while the concat returns and the embedding's while the encoder does: a little more than the
 * most held at any moment, and small next to a video.
 */
export function guidanceTextBytes(
  pack: PackFacts,
  positive: readonly number[],
  options: { guided: boolean; negativeConnected: boolean },
): number {
  if (!options.guided) return 0;
  const stacked = 2 * f32(...positive);
  const negative = options.negativeConnected ? 0 : pack.textTokens * 8 + 2 * f32(1, pack.textTokens, pack.textWidth);
  return 2 * stacked + negative;
}
