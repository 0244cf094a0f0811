/**
 * The one place that imports `onnx-proto` (the compiled ONNX protobuf schema).
 *
 * `onnx-proto` is a CommonJS module whose only runtime export is its protobuf root, so ESM code can
 * only reach the `onnx` namespace through the default import; this adapter hides that and adds the
 * dtype ↔ ONNX element-type mapping both the graph builder and the initializer rewriter need.
 */

import type { onnx as OnnxNs } from 'onnx-proto';
import onnxProtoRoot from 'onnx-proto';
import type { DType } from '../tensor/types.js';

/** The `onnx` protobuf namespace (ModelProto, GraphProto, TensorProto, …). */
export const onnx: typeof OnnxNs = onnxProtoRoot.onnx;
export type { OnnxNs };

/** ONNX IR version of the models the builder writes (IR 8 = ONNX 1.10+, understood by every ORT ≥ 1.10). */
export const IR_VERSION = 8;
/** Default-domain opset of built graphs. Opset 17 keeps ReduceMean's axes an attribute and Split's sizes an input. */
export const OPSET = 17;

const ELEM: Readonly<Record<DType, number>> = {
  float32: 1, // FLOAT
  uint8: 2, // UINT8
  int32: 6, // INT32
  int64: 7, // INT64
  bool: 9, // BOOL
  float16: 10, // FLOAT16
};

const ELEM_NAMES: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** The ONNX `TensorProto.DataType` number of a dtype. */
export function onnxElemType(dtype: DType): number {
  return ELEM[dtype];
}

/** The dtype name of an ONNX element type (one of {@link DType} when supported, else ONNX's own name). */
export function elemTypeName(elemType: number): string {
  return ELEM_NAMES[elemType] ?? `onnx-type-${elemType}`;
}

/** A protobuf int64 as decoded (number, or a Long-like object when the `long` package is present) → number. */
export function int64ToNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
