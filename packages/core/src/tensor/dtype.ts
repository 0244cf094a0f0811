/**
 * Element-type helpers shared by the main thread, the worker and the graph builder.
 * Pure functions: no ORT, no worker state.
 */
import type { DType, TensorData } from './types.js';

/** Every {@link DType} the store supports, in a stable order (used to validate untrusted input). */
export const DTYPES: readonly DType[] = ['float32', 'float16', 'int64', 'int32', 'uint8', 'bool'];

/** Bytes per element for each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

/** True when `value` names a supported {@link DType}. */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/**
 * The dtype a typed array implies when the caller gives none. `Uint8Array` means uint8 (pass `'bool'`
 * explicitly for masks) and `Uint16Array` can only be float16 bits.
 */
export function dtypeOfData(data: TensorData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

/** Whether a typed array can carry elements of `dtype` (bool and uint8 share Uint8Array). */
export function dataMatchesDType(data: TensorData, dtype: DType): boolean {
  const natural = dtypeOfData(data);
  return natural === dtype || (dtype === 'bool' && natural === 'uint8');
}

/** Number of elements of a tensor with these dims (1 for a scalar, `[]`). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes a tensor of these dims and dtype occupies. */
export function byteSize(dims: readonly number[], dtype: DType): number {
  return elementCount(dims) * DTYPE_BYTES[dtype];
}

/** Checks that dims are non-negative integers; returns a message describing the first problem, or null. */
export function dimsProblem(dims: readonly number[]): string | null {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) return `dims must be non-negative integers, got [${dims.join(', ')}]`;
  }
  return null;
}

/** Why `data` cannot be uploaded as a tensor of `dims` and `dtype`, or null when it can. */
export function uploadProblem(data: TensorData, dims: readonly number[], dtype: DType): string | null {
  return (
    dimsProblem(dims) ??
    (!isDType(dtype) ? `unknown dtype '${String(dtype)}'` : null) ??
    (!dataMatchesDType(data, dtype) ? `a ${data.constructor.name} cannot hold ${dtype} data` : null) ??
    (data.length !== elementCount(dims)
      ? `data has ${data.length} elements but dims [${dims.join(', ')}] need ${elementCount(dims)}`
      : null)
  );
}

/** Allocates a zeroed typed array of the right kind for `dtype`. */
export function allocData(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float16':
      return new Uint16Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(length);
  }
}

/**
 * Copies a typed array into a fresh one that owns its whole ArrayBuffer, so that the buffer can be put
 * in a transfer list without detaching the caller's data or shipping unrelated bytes of a shared buffer.
 */
export function ownedCopy(data: TensorData): TensorData {
  // Not `data.slice()`: on a Node Buffer (a Uint8Array subclass) slice returns a view, not a copy.
  const out = allocData(dtypeOfData(data), data.length);
  (out as { set(src: ArrayLike<number | bigint>): void }).set(data);
  return out;
}

/** True when the array spans exactly its whole ArrayBuffer (so transferring it moves no foreign bytes). */
export function spansWholeBuffer(data: TensorData): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
}
