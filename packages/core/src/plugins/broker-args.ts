/** Checks and rebuilds the arguments an isolated plugin sends with its tensor requests. */

import type { DType, ModelOptions, TensorData } from '../tensor/types.js';

const DTYPES: readonly DType[] = ['float32', 'float16', 'int64', 'int32', 'uint8', 'bool'];
const OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'];

export function asDims(value: unknown, op: string, broker: { invalid(op: string, why: string): Error }): number[] {
  if (!Array.isArray(value) || value.length > 16 || !value.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw broker.invalid(op, 'dims are not a list of up to 16 non-negative integers');
  return [...value] as number[];
}

export function asDType(
  value: unknown,
  op: string,
  broker: { invalid(op: string, why: string): Error },
): DType | undefined {
  if (value === null || value === undefined) return undefined;
  if (!(DTYPES as readonly unknown[]).includes(value)) throw broker.invalid(op, `dtype ${String(value)} is unknown`);
  return value as DType;
}

export function asModelOptions(
  value: unknown,
  op: string,
  broker: { invalid(op: string, why: string): Error },
): ModelOptions | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object') throw broker.invalid(op, 'options are not an object');
  const v = value as Record<string, unknown>;
  const out: { -readonly [K in keyof ModelOptions]: ModelOptions[K] } = {};
  if (v.graphOptimizationLevel !== undefined) {
    if (!OPTIMIZATION_LEVELS.includes(v.graphOptimizationLevel as string))
      throw broker.invalid(op, 'graphOptimizationLevel is unknown');
    out.graphOptimizationLevel = v.graphOptimizationLevel as ModelOptions['graphOptimizationLevel'];
  }
  if (v.intraOpNumThreads !== undefined) {
    if (!Number.isSafeInteger(v.intraOpNumThreads) || (v.intraOpNumThreads as number) < 1)
      throw broker.invalid(op, 'intraOpNumThreads is not a positive integer');
    out.intraOpNumThreads = v.intraOpNumThreads as number;
  }
  if (v.initializerOverrides !== undefined) {
    const overrides = v.initializerOverrides;
    if (typeof overrides !== 'object' || overrides === null || !Object.values(overrides).every(isTensorData))
      throw broker.invalid(op, 'initializerOverrides are not typed arrays by name');
    out.initializerOverrides = Object.fromEntries(Object.entries(overrides)) as Record<string, TensorData>;
  }
  if (v.appendGraph !== undefined) {
    const g = v.appendGraph as { bytes?: unknown; links?: unknown } | null;
    const links = g?.links;
    if (
      !(g?.bytes instanceof Uint8Array) ||
      typeof links !== 'object' ||
      links === null ||
      !Object.values(links).every((x) => typeof x === 'string')
    )
      throw broker.invalid(op, 'appendGraph is not { bytes, links }');
    out.appendGraph = { bytes: g.bytes, links: Object.fromEntries(Object.entries(links)) as Record<string, string> };
  }
  return out;
}

export function isTensorData(value: unknown): value is TensorData {
  return (
    value instanceof Float32Array ||
    value instanceof Uint16Array ||
    value instanceof BigInt64Array ||
    value instanceof Int32Array ||
    value instanceof Uint8Array
  );
}
