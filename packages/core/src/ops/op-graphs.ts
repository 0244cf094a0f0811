/**
 * The small ONNX graphs behind {@link TensorOps}. Each builder is keyed by a name that captures
 * everything baked into the graph (op, dtype, axis, arity); values that change from call to call —
 * scalars such as the guidance scale or sampler coefficients, slice bounds, resize sizes — are graph
 * inputs, so one cached session serves every sampling step.
 *
 * Data inputs declare no shape: the graphs accept any rank and size. Scalar inputs are float32 and
 * cast to the data dtype inside the graph.
 */

import type { BuiltGraph, GraphBuilder, GraphValue } from '../graph/builder.js';
import { buildGraph } from '../graph/builder.js';
import type { DType } from '../tensor/types.js';

/** A graph known by name before it is built: callers look the name up in their cache and build only on a miss. */
export interface OpGraph {
  readonly name: string;
  build(): BuiltGraph;
}

/** Built graphs by name, shared by every TensorOps instance (nodes often make one per execution). */
const built = new Map<string, BuiltGraph>();

function opGraph(name: string, define: (g: GraphBuilder) => void): OpGraph {
  return {
    name,
    build: () => {
      let g = built.get(name);
      if (g === undefined) built.set(name, (g = buildGraph(name, define)));
      return g;
    },
  };
}

/** Declares a float32 scalar input and casts it to `dtype` when that differs. */
function scalarInput(g: GraphBuilder, name: string, dtype: DType): GraphValue {
  const s = g.input(name, 'float32', []);
  return dtype === 'float32' ? s : g.cast(s, dtype);
}

/** Elementwise binary op with broadcasting: inputs a, b → y. */
export function binaryGraph(op: 'add' | 'sub' | 'mul' | 'div', dtype: DType): OpGraph {
  return opGraph(`${op}:${dtype}`, (g) => {
    const a = g.input('a', dtype);
    const b = g.input('b', dtype);
    g.output('y', g[op](a, b));
  });
}

/** y = a·x + b·y0 with scalar inputs a, b (the shape of most sampler updates). */
export function axpbyGraph(dtype: DType): OpGraph {
  return opGraph(`axpby:${dtype}`, (g) => {
    const x = g.input('x', dtype);
    const y = g.input('y0', dtype);
    const a = scalarInput(g, 'a', dtype);
    const b = scalarInput(g, 'b', dtype);
    g.output('y', g.add(g.mul(x, a), g.mul(y, b)));
  });
}

/** y = a + t·(b − a) with scalar input t (lerp; also classifier-free guidance with t = scale). */
export function lerpGraph(dtype: DType): OpGraph {
  return opGraph(`lerp:${dtype}`, (g) => {
    const a = g.input('a', dtype);
    const b = g.input('b', dtype);
    const t = scalarInput(g, 't', dtype);
    g.output('y', g.add(a, g.mul(g.sub(b, a), t)));
  });
}

/** Concatenation of `n` inputs x0…x(n−1) along `axis`. */
export function concatGraph(n: number, axis: number, dtype: DType): OpGraph {
  return opGraph(`concat:${n}:${axis}:${dtype}`, (g) => {
    const xs = Array.from({ length: n }, (_, i) => g.input(`x${i}`, dtype));
    g.output('y', g.concat(xs, axis));
  });
}

/** x[start:end] along `axis`; `bounds` is an int64 [start, end] input. */
export function sliceGraph(axis: number, dtype: DType): OpGraph {
  return opGraph(`slice:${axis}:${dtype}`, (g) => {
    const x = g.input('x', dtype);
    const bounds = g.input('bounds', 'int64', [2]);
    const start = g.slice(bounds, [0], [1]);
    const end = g.slice(bounds, [1], [2]);
    g.output('y', g.slice(x, start, end, [axis]));
  });
}

/** Splits x into `n` equal parts y0…y(n−1) along `axis`. */
export function chunkGraph(n: number, axis: number, dtype: DType): OpGraph {
  return opGraph(`chunk:${n}:${axis}:${dtype}`, (g) => {
    const x = g.input('x', dtype);
    for (const [i, part] of g.split(x, axis, n).entries()) g.output(`y${i}`, part);
  });
}

/** mask ? a : b elementwise; a non-bool mask counts as true where it is non-zero. */
export function whereGraph(maskDtype: DType, dtype: DType): OpGraph {
  return opGraph(`where:${maskDtype}:${dtype}`, (g) => {
    const m = g.input('mask', maskDtype);
    const a = g.input('a', dtype);
    const b = g.input('b', dtype);
    g.output('y', g.where(maskDtype === 'bool' ? m : g.cast(m, 'bool'), a, b));
  });
}

/**
 * Nearest upscaling by whole factors as a broadcast: x reshaped to `split` (each scaled axis d becomes
 * [d, 1]), expanded to `expanded` ([d, factor]) and reshaped to `out`. The same values as {@link resizeGraph}'s
 * nearest mode for whole factors (half-pixel source coordinates never fall on .5 then), at memcpy speed:
 * ONNX Runtime's Resize computes coordinates per element, ≈ 50 ms for a 16-frame 32→256 clip, this ≈ 5.
 */
export function repeatGraph(dtype: DType): OpGraph {
  return opGraph(`repeat:${dtype}`, (g) => {
    const x = g.input('x', dtype);
    const split = g.input('split', 'int64', ['splitRank']);
    const expanded = g.input('expanded', 'int64', ['splitRank']);
    const out = g.input('out', 'int64', ['rank']);
    g.output('y', g.reshape(g.expand(g.reshape(x, split), expanded), out));
  });
}

/** Resizes x to the int64 `sizes` input (one entry per axis), half-pixel coordinates. */
export function resizeGraph(mode: 'nearest' | 'linear', dtype: DType): OpGraph {
  return opGraph(`resize:${mode}:${dtype}`, (g) => {
    const x = g.input('x', dtype);
    const sizes = g.input('sizes', 'int64', ['rank']);
    g.output('y', g.resize(x, { sizes, mode, coordinateTransformationMode: 'half_pixel' }));
  });
}
