/**
 * Rewrites a model's initializers (weights) in TypeScript, before a session is created from it.
 *
 * The StyleAdapter node interpolates weights (w = w₀ + α·Δw) and needs a session whose initializers
 * hold the interpolated values; ORT has no API to replace initializers of a session, so the model is
 * decoded with onnx-proto, the named initializers' data replaced, and the model re-encoded.
 *
 * Limits: only models whose weights are stored inside the file (no external data), and only the
 * main graph's initializers (not those of If/Loop subgraphs).
 */

import { elemTypeName, int64ToNumber, onnx } from '../graph/onnx-proto.js';
import { TensorError } from '../tensor/errors.js';
import type { TensorData } from '../tensor/types.js';
import { decodeModel } from './append-graph.js';

/** ONNX element types each typed array may carry (raw little-endian bytes, which is what x64/arm64 JS uses). */
function acceptedElemTypes(data: TensorData): readonly number[] {
  if (data instanceof Float32Array) return [1];
  if (data instanceof Uint16Array) return [10, 16]; // float16 or bfloat16 bits
  if (data instanceof BigInt64Array) return [7];
  if (data instanceof Int32Array) return [6];
  return [2, 9]; // uint8 or bool
}

function arrayKind(data: TensorData): string {
  return data.constructor.name;
}

const EXTERNAL = 1; // TensorProto.DataLocation.EXTERNAL

/**
 * Returns new model bytes in which each initializer named in `overrides` holds the given data.
 *
 * Throws `UNKNOWN_INITIALIZER` listing every name not found, `INITIALIZER_MISMATCH` when an
 * element type or element count differs from the original, and `EXTERNAL_DATA_UNSUPPORTED` when the
 * initializer's data lives in an external file.
 */
export function applyInitializerOverrides(
  modelBytes: Uint8Array,
  overrides: Readonly<Record<string, TensorData>>,
): Uint8Array {
  const model = decodeModel(modelBytes);
  const inits = model.graph?.initializer ?? [];
  const byName = new Map(inits.map((t) => [t.name, t]));

  const unknown = Object.keys(overrides).filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    const known = inits.map((t) => t.name);
    const shown = known.slice(0, 20).join(', ') + (known.length > 20 ? `, … (${known.length} in all)` : '');
    throw new TensorError(
      'UNKNOWN_INITIALIZER',
      `initializerOverrides names initializers the model does not have: ${unknown.join(', ')}. Model initializers: ${shown || '(none)'}.`,
      { unknown },
    );
  }

  for (const [name, data] of Object.entries(overrides)) {
    const init = byName.get(name)!;
    if (init.dataLocation === EXTERNAL || (init.externalData?.length ?? 0) > 0) {
      throw new TensorError(
        'EXTERNAL_DATA_UNSUPPORTED',
        `initializer '${name}' stores its data externally; initializerOverrides needs models with embedded weights`,
      );
    }
    const elemType = init.dataType ?? 0;
    if (!acceptedElemTypes(data).includes(elemType)) {
      throw new TensorError(
        'INITIALIZER_MISMATCH',
        `initializer '${name}' is ${elemTypeName(elemType)} but the override is a ${arrayKind(data)}`,
        { name },
      );
    }
    const dims = (init.dims ?? []).map((d) => int64ToNumber(d));
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new TensorError(
        'INITIALIZER_MISMATCH',
        `initializer '${name}' has shape [${dims.join(', ')}] (${expected} elements) but the override has ${data.length}`,
        { name, dims },
      );
    }
    // raw_data takes precedence only when the typed fields are empty, so clear all of them.
    init.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    init.floatData = [];
    init.int32Data = [];
    init.int64Data = [];
    init.doubleData = [];
    init.uint64Data = [];
    init.stringData = [];
  }
  return onnx.ModelProto.encode(model).finish();
}

export { hashOverrides } from './option-hashes.js';

/** A float32 initializer read from a model file. */
export interface FloatInitializer {
  readonly dims: number[];
  readonly data: Float32Array;
}

/**
 * Reads float32 initializers (weights) of a model, by name (all float32 ones when `names` is omitted).
 * For nodes that compute new weights from a model's own, such as the StyleAdapter's
 * `(1-α)·W_base + α·W_style`, before passing them as `initializerOverrides` to `loadModel`.
 * Throws `UNKNOWN_INITIALIZER` listing names that are not float32 initializers of the model.
 */
export function readOnnxInitializers(
  modelBytes: Uint8Array,
  names?: readonly string[],
): Record<string, FloatInitializer> {
  const model = onnx.ModelProto.decode(modelBytes);
  const wanted = names ? new Set(names) : undefined;
  const out: Record<string, FloatInitializer> = {};
  for (const init of model.graph?.initializer ?? []) {
    const name = init.name ?? '';
    if ((wanted && !wanted.has(name)) || init.dataType !== 1) continue;
    const dims = (init.dims ?? []).map((d) => int64ToNumber(d));
    let data: Float32Array;
    if (init.rawData?.length) {
      // Copy: the decoded bytes are a view into the whole model buffer and may be unaligned.
      data = new Float32Array(init.rawData.slice().buffer, 0, init.rawData.length / 4);
    } else data = Float32Array.from(init.floatData ?? []);
    out[name] = { dims, data };
  }
  const missing = names?.filter((n) => !(n in out)) ?? [];
  if (missing.length) {
    throw new TensorError(
      'UNKNOWN_INITIALIZER',
      `The model has no float32 initializer named ${missing
        .slice(0, 10)
        .map((n) => `"${n}"`)
        .join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}.`,
    );
  }
  return out;
}
