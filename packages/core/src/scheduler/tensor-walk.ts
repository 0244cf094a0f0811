import type { TensorHandle } from '../tensor/types.js';
import type { OutputSummary } from './events.js';

const DTYPE_BYTES: Record<string, number> = { float32: 4, float16: 2, int64: 8, int32: 4, uint8: 1, bool: 1 };

/** True for a tensor handle (plain data with kind 'tensor'). */
export function isTensorHandle(value: unknown): value is TensorHandle {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'tensor' &&
    typeof (value as { id?: unknown }).id === 'number'
  );
}

/** Every distinct tensor handle inside a node's outputs (nested objects and arrays included). */
export function collectTensors(
  value: unknown,
  found = new Map<number, TensorHandle>(),
  depth = 0,
): Map<number, TensorHandle> {
  if (depth > 16 || typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return found;
  if (isTensorHandle(value)) {
    found.set(value.id, value);
    return found;
  }
  for (const item of Array.isArray(value) ? value : Object.values(value)) collectTensors(item, found, depth + 1);
  return found;
}

/** Bytes a tensor occupies. */
export function tensorBytes(handle: TensorHandle): number {
  return handle.dims.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[handle.dtype] ?? 4);
}

/** A short description of an output for events. */
export function summarizeOutput(value: unknown): OutputSummary {
  if (isTensorHandle(value)) return { kind: 'tensor', dims: value.dims, dtype: value.dtype };
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return {
      kind: 'value',
      value: typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}\u2026` : value,
    };
  }
  if (typeof value === 'object') {
    const tensor = Object.values(value).find(isTensorHandle);
    if (tensor) return { kind: 'tensor', dims: tensor.dims, dtype: tensor.dtype };
    return { kind: 'object', type: String((value as { kind?: unknown }).kind ?? 'object') };
  }
  return { kind: 'value', value: String(value) };
}
