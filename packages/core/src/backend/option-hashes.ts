/**
 * Digests of the model options that change a session (initializer overrides, an appended graph), for
 * session pool keys. Kept apart from initializers.ts and append-graph.ts so computing a key does not load
 * onnx-proto: the inference worker loads that only when it has to rewrite a model.
 */
import { createHash } from 'node:crypto';
import type { AppendedGraph, TensorData } from '../tensor/types.js';

/** A digest of initializer overrides (names, array types, values), order-independent. */
export function hashOverrides(overrides: Readonly<Record<string, TensorData>> | undefined): string {
  if (overrides === undefined) return 'none';
  const h = createHash('sha256');
  for (const name of Object.keys(overrides).sort()) {
    const data = overrides[name]!;
    h.update(`${name}\0${data.constructor.name}\0${data.length}\0`);
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}

/** A digest of an appended graph and its links. */
export function hashAppendedGraph(tail: AppendedGraph | undefined): string {
  if (tail === undefined) return 'none';
  const h = createHash('sha256').update(tail.bytes);
  for (const key of Object.keys(tail.links).sort()) h.update(`\0${key}\0${tail.links[key]}`);
  return h.digest('hex');
}
