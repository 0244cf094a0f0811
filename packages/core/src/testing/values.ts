/**
 * Port values with their tensors as JS data: what a test hands to `source` and what `capture` hands back.
 */
import { createHash } from 'node:crypto';
import { isTensorHandle } from '../scheduler/tensor-walk.js';
import { dtypeOfData } from '../tensor/dtype.js';
import type { DType, TensorData, TensorHandle, TensorStore } from '../tensor/types.js';

/** A tensor as JS data. `dtype` defaults to the one the typed array implies (see `TensorStore.upload`). */
export interface TestTensor {
  readonly data: TensorData;
  readonly dims: readonly number[];
  readonly dtype?: DType;
}

/** A tensor read back from the device: its dtype is always known. */
export interface CapturedTensor extends TestTensor {
  readonly dtype: DType;
}

/**
 * A port value with every tensor handle in it replaced by JS data: `TestValue<VideoValue>` is
 * `{ kind: 'video', tensor: { data, dims }, fps }`.
 */
export type TestValue<T> = T extends TensorHandle
  ? TestTensor
  : T extends readonly (infer U)[]
    ? readonly TestValue<U>[]
    : T extends object
      ? { readonly [K in keyof T]: TestValue<T[K]> }
      : T;

/** What a capture records: like {@link TestValue}, with the dtype of every tensor filled in. */
export type CapturedValue<T> = T extends TensorHandle
  ? CapturedTensor
  : T extends readonly (infer U)[]
    ? readonly CapturedValue<U>[]
    : T extends object
      ? { readonly [K in keyof T]: CapturedValue<T[K]> }
      : T;

/** True for `{ data: <typed array>, dims: number[] }`: a tensor given as JS data. */
export function isTestTensor(value: unknown): value is TestTensor {
  if (typeof value !== 'object' || value === null || !('data' in value) || !('dims' in value)) return false;
  return ArrayBuffer.isView(value.data) && !(value.data instanceof DataView) && Array.isArray(value.dims);
}

/** Uploads every tensor in `value` into `store` and returns the value with handles in their place. */
export async function uploadValue(store: TensorStore, value: unknown, depth = 0): Promise<unknown> {
  if (isTestTensor(value)) return store.upload(value.data, value.dims, value.dtype ?? dtypeOfData(value.data));
  if (depth > 16 || typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return Promise.all(value.map((item) => uploadValue(store, item, depth + 1)));
  const entries = await Promise.all(
    Object.entries(value).map(async ([key, item]) => [key, await uploadValue(store, item, depth + 1)] as const),
  );
  return Object.fromEntries(entries);
}

/** Reads every tensor in `value` back into JS and returns the value with {@link CapturedTensor}s in their place. */
export async function readValue(store: TensorStore, value: unknown, depth = 0): Promise<unknown> {
  if (isTensorHandle(value)) {
    const captured: CapturedTensor = { data: await store.read(value), dims: [...value.dims], dtype: value.dtype };
    return captured;
  }
  if (depth > 16 || typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return Promise.all(value.map((item) => readValue(store, item, depth + 1)));
  const entries = await Promise.all(
    Object.entries(value).map(async ([key, item]) => [key, await readValue(store, item, depth + 1)] as const),
  );
  return Object.fromEntries(entries);
}

/**
 * A content key of a test value: equal values (tensor bytes included) get equal keys, so a source node's
 * params, and with them the cache keys downstream, change exactly when the value does, as a file loader's
 * fingerprint would.
 */
export function valueKey(portType: string, value: unknown): string {
  const json = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return `${item}n`;
    if (isTestTensor(item)) {
      const bytes = new Uint8Array(item.data.buffer, item.data.byteOffset, item.data.byteLength);
      const sha = createHash('sha256').update(bytes).digest('hex');
      return { dims: item.dims, dtype: item.dtype ?? dtypeOfData(item.data), sha };
    }
    if (ArrayBuffer.isView(item)) {
      const bytes = new Uint8Array(item.buffer, item.byteOffset, item.byteLength);
      return { bytes: createHash('sha256').update(bytes).digest('hex') };
    }
    return item;
  });
  return createHash('sha256')
    .update(`${portType}\n${json ?? 'undefined'}`)
    .digest('hex')
    .slice(0, 32);
}
