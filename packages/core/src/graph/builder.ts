/**
 * A small typed builder for ONNX graphs, written on `onnx-proto`.
 *
 * Core uses it for the tensor math that runs between model calls (guidance mix, sampler updates,
 * concatenation, resizing, masking): expressing that math as tiny ONNX graphs lets it run in the
 * inference worker, on the same execution provider as the models, so data never leaves the device.
 * Tests use it to build models without any trained weights.
 *
 * Graphs are IR 8 / opset 17. Graph inputs may leave dims symbolic (strings) or omit the shape
 * entirely, so one graph serves every batch size and resolution.
 */

import { dataMatchesDType, dtypeOfData, elementCount } from '../tensor/dtype.js';
import { TensorError } from '../tensor/errors.js';
import type { DType, TensorData } from '../tensor/types.js';
import type { OnnxNs } from './onnx-proto.js';
import { IR_VERSION, OPSET, onnx, onnxElemType } from './onnx-proto.js';

/** A dimension in a declared shape: a fixed size, a symbolic name shared across inputs, or `'?'` for unknown. */
export type Dim = number | string;

/** A value flowing through a graph under construction (a graph input, a constant or a node output). */
export interface GraphValue {
  readonly kind: 'value';
  /** The ONNX value name. */
  readonly name: string;
  /** Element type when the builder can tell (it tracks dtypes through every op it knows). */
  readonly dtype: DType | undefined;
}

/** An operand of an elementwise op: a value, or a JS number turned into a scalar of the other operand's dtype. */
export type Operand = GraphValue | number;

/** An ONNX node attribute, tagged with its protobuf kind so integer-valued floats stay floats. */
export type Attr =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] };

/** A declared graph input or output. `dims` is undefined when the shape (even the rank) is left open. */
export interface GraphPort {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly Dim[] | undefined;
}

/** A finished graph: serialised ModelProto bytes ready for `TensorStore.loadModel`, plus its ports. */
export interface BuiltGraph {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly inputs: readonly GraphPort[];
  readonly outputs: readonly GraphPort[];
}

/** Options of {@link GraphBuilder.resize}. Exactly one of `sizes` and `scales` must be given, covering every axis. */
export interface ResizeOptions {
  readonly sizes?: readonly number[] | GraphValue;
  readonly scales?: readonly number[] | GraphValue;
  /** Interpolation. Default `'nearest'`. `'linear'` means (bi/tri)linear over the resized axes. */
  readonly mode?: 'nearest' | 'linear' | 'cubic';
  /** How output coordinates map to input ones. Default `'half_pixel'` (what PyTorch's `align_corners=False` does). */
  readonly coordinateTransformationMode?: 'half_pixel' | 'asymmetric' | 'align_corners' | 'pytorch_half_pixel';
  /** Rounding for `'nearest'`. Default `'round_prefer_floor'` (ONNX's default). */
  readonly nearestMode?: 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
}

/** Options of {@link GraphBuilder.pad}. */
export interface PadOptions {
  readonly mode?: 'constant' | 'reflect' | 'edge';
  /** Fill value for `'constant'` mode. Default 0. */
  readonly value?: number;
}

type Int64Operand = readonly number[] | GraphValue;

const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

function encodeAttr(name: string, a: Attr): OnnxNs.IAttributeProto {
  if ('i' in a) return { name, type: ATTR_TYPE.INT, i: a.i };
  if ('f' in a) return { name, type: ATTR_TYPE.FLOAT, f: a.f };
  if ('s' in a) return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: ATTR_TYPE.INTS, ints: [...a.ints] };
  return { name, type: ATTR_TYPE.FLOATS, floats: [...a.floats] };
}

function typeProto(dtype: DType, dims: readonly Dim[] | undefined): OnnxNs.ITypeProto {
  const tensorType: OnnxNs.TypeProto.ITensor = { elemType: onnxElemType(dtype) };
  if (dims !== undefined) {
    tensorType.shape = {
      dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : d === '?' ? {} : { dimParam: d })),
    };
  }
  return { tensorType };
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Builds one ONNX graph. Obtain one through {@link buildGraph}; every op method appends a node and
 * returns its output value(s).
 */
export class GraphBuilder {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private readonly inputPorts: GraphPort[] = [];
  private readonly outputPorts: GraphPort[] = [];
  private readonly usedNames = new Set<string>();
  private counter = 0;

  /** @internal Use {@link buildGraph}. */
  constructor(readonly graphName: string) {}

  // ---- graph interface -------------------------------------------------------------------------

  /** Declares a graph input. Omit `dims` to accept any rank; use strings for symbolic (dynamic) dims. */
  input(name: string, dtype: DType, dims?: readonly Dim[]): GraphValue {
    this.claim(name);
    this.inputPorts.push({ name, dtype, dims: dims ? [...dims] : undefined });
    return { kind: 'value', name, dtype };
  }

  /** Declares a graph output named `name` carrying `value`. Its dtype must be known (pass `dtype` for raw ops). */
  output(name: string, value: GraphValue, dims?: readonly Dim[], dtype?: DType): void {
    const dt = dtype ?? value.dtype;
    if (dt === undefined) {
      throw new TensorError(
        'INVALID_ARGUMENT',
        `graph '${this.graphName}': output '${name}' has an unknown dtype; pass it explicitly`,
      );
    }
    if (value.name !== name) {
      // ONNX names outputs by value name; an Identity node lets any value be exported under any name.
      this.claim(name);
      this.nodes.push({ opType: 'Identity', input: [value.name], output: [name], name: `out_${name}` });
    }
    this.outputPorts.push({ name, dtype: dt, dims: dims ? [...dims] : undefined });
  }

  /**
   * A constant tensor stored as an initializer. `data` may be a typed array or plain numbers (converted
   * to `dtype`). Give a `name` to make it addressable later, e.g. by `initializerOverrides`.
   */
  constant(data: TensorData | readonly number[], dims: readonly number[], dtype?: DType, name?: string): GraphValue {
    const dt = dtype ?? (Array.isArray(data) ? 'float32' : dtypeOfData(data as TensorData));
    const arr = Array.isArray(data) ? numbersToData(data, dt) : (data as TensorData);
    if (!dataMatchesDType(arr, dt)) {
      throw new TensorError('INVALID_ARGUMENT', `graph '${this.graphName}': constant data does not match dtype ${dt}`);
    }
    if (arr.length !== elementCount(dims)) {
      throw new TensorError(
        'INVALID_ARGUMENT',
        `graph '${this.graphName}': constant has ${arr.length} elements but dims [${dims.join(', ')}]`,
      );
    }
    if (name !== undefined) this.claim(name);
    else name = this.fresh('const');
    this.initializers.push({ name, dataType: onnxElemType(dt), dims: [...dims], rawData: bytesOf(arr).slice() });
    return { kind: 'value', name, dtype: dt };
  }

  /** A 0-d constant. */
  scalar(value: number, dtype: DType = 'float32'): GraphValue {
    return this.constant([value], [], dtype);
  }

  /** A 1-d int64 constant (shapes, axes, pads, starts/ends). */
  ints(values: readonly number[]): GraphValue {
    return this.constant(values, [values.length], 'int64');
  }

  /**
   * Appends any ONNX node (the escape hatch for ops without a helper). `null` inputs become empty
   * names (ONNX's "optional input omitted"). `dtype` sets the outputs' tracked dtype, default: the first input's.
   */
  op(
    opType: string,
    inputs: readonly (GraphValue | null)[],
    attrs: Readonly<Record<string, Attr>> = {},
    opts: { outputs?: number; dtype?: DType } = {},
  ): GraphValue[] {
    const n = opts.outputs ?? 1;
    const base = this.fresh(opType.toLowerCase());
    const outputs = Array.from({ length: n }, (_, i) => (n === 1 ? base : `${base}_${i}`));
    for (const o of outputs) this.usedNames.add(o);
    this.nodes.push({
      opType,
      name: base,
      input: inputs.map((v) => (v === null ? '' : v.name)),
      output: outputs,
      attribute: Object.entries(attrs).map(([k, a]) => encodeAttr(k, a)),
    });
    const dtype = opts.dtype ?? inputs.find((v): v is GraphValue => v !== null)?.dtype;
    return outputs.map((name) => ({ kind: 'value', name, dtype }));
  }

  // ---- elementwise -----------------------------------------------------------------------------

  /** a + b (numpy broadcasting). */
  add(a: Operand, b: Operand): GraphValue {
    return this.binary('Add', a, b);
  }
  /** a − b. */
  sub(a: Operand, b: Operand): GraphValue {
    return this.binary('Sub', a, b);
  }
  /** a · b. */
  mul(a: Operand, b: Operand): GraphValue {
    return this.binary('Mul', a, b);
  }
  /** a / b. */
  div(a: Operand, b: Operand): GraphValue {
    return this.binary('Div', a, b);
  }
  /** a ^ b. */
  pow(a: Operand, b: Operand): GraphValue {
    return this.binary('Pow', a, b);
  }
  /** −x. */
  neg(x: GraphValue): GraphValue {
    return this.unary('Neg', x);
  }
  /** √x. */
  sqrt(x: GraphValue): GraphValue {
    return this.unary('Sqrt', x);
  }
  /** eˣ. */
  exp(x: GraphValue): GraphValue {
    return this.unary('Exp', x);
  }
  /** |x|. */
  abs(x: GraphValue): GraphValue {
    return this.unary('Abs', x);
  }
  /** Clamps x to [min, max]; either bound may be omitted. */
  clip(x: GraphValue, min?: Operand, max?: Operand): GraphValue {
    const lo = min === undefined ? null : this.operand(min, x.dtype);
    const hi = max === undefined ? null : this.operand(max, x.dtype);
    return this.one('Clip', [x, lo, hi]);
  }
  /** Elementwise a > b, a bool tensor. */
  greater(a: Operand, b: Operand): GraphValue {
    return this.compare('Greater', a, b);
  }
  /** Elementwise a < b, a bool tensor. */
  less(a: Operand, b: Operand): GraphValue {
    return this.compare('Less', a, b);
  }
  /** Elementwise a == b, a bool tensor. */
  equal(a: Operand, b: Operand): GraphValue {
    return this.compare('Equal', a, b);
  }
  /** cond ? a : b elementwise (broadcasting); `cond` must be bool. */
  where(cond: GraphValue, a: Operand, b: Operand): GraphValue {
    const [x, y] = this.pair(a, b);
    return this.one('Where', [cond, x, y], {}, x.dtype);
  }
  /** Converts x to `dtype`. */
  cast(x: GraphValue, dtype: DType): GraphValue {
    return this.one('Cast', [x], { to: { i: onnxElemType(dtype) } }, dtype);
  }

  // ---- shape ops -------------------------------------------------------------------------------

  /** Concatenates along `axis` (negative counts from the end). */
  concat(values: readonly GraphValue[], axis: number): GraphValue {
    return this.one('Concat', values, { axis: { i: axis } });
  }
  /** Slices x: `starts`/`ends` per listed `axes` (default: the leading axes), optional `steps`. */
  slice(
    x: GraphValue,
    starts: Int64Operand,
    ends: Int64Operand,
    axes?: Int64Operand,
    steps?: Int64Operand,
  ): GraphValue {
    const inputs: (GraphValue | null)[] = [x, this.i64(starts), this.i64(ends)];
    if (axes !== undefined || steps !== undefined) inputs.push(axes === undefined ? null : this.i64(axes));
    if (steps !== undefined) inputs.push(this.i64(steps));
    return this.one('Slice', inputs);
  }
  /** Splits x along `axis` into `parts` equal pieces, or into pieces of the listed sizes. */
  split(x: GraphValue, axis: number, parts: number | readonly number[]): GraphValue[] {
    if (typeof parts === 'number') return this.op('Split', [x], { axis: { i: axis } }, { outputs: parts });
    return this.op('Split', [x, this.ints(parts)], { axis: { i: axis } }, { outputs: parts.length });
  }
  /** Reshapes x (0 copies that dim, −1 infers one dim). */
  reshape(x: GraphValue, shape: Int64Operand): GraphValue {
    return this.one('Reshape', [x, this.i64(shape)]);
  }
  /** Permutes axes. */
  transpose(x: GraphValue, perm: readonly number[]): GraphValue {
    return this.one('Transpose', [x], { perm: { ints: perm } });
  }
  /** Inserts size-1 axes. */
  unsqueeze(x: GraphValue, axes: Int64Operand): GraphValue {
    return this.one('Unsqueeze', [x, this.i64(axes)]);
  }
  /** Removes size-1 axes (all of them when `axes` is omitted). */
  squeeze(x: GraphValue, axes?: Int64Operand): GraphValue {
    return this.one('Squeeze', axes === undefined ? [x] : [x, this.i64(axes)]);
  }
  /** Broadcasts x to `shape`. */
  expand(x: GraphValue, shape: Int64Operand): GraphValue {
    return this.one('Expand', [x, this.i64(shape)]);
  }
  /** The shape of x as a 1-d int64 tensor. */
  shape(x: GraphValue): GraphValue {
    return this.one('Shape', [x], {}, 'int64');
  }
  /** Mean over `axes`, keeping them as size 1 unless `keepdims` is false. */
  reduceMean(x: GraphValue, axes: readonly number[], keepdims = true): GraphValue {
    return this.one('ReduceMean', [x], { axes: { ints: axes }, keepdims: { i: keepdims ? 1 : 0 } });
  }
  /** Resizes x. `sizes`/`scales` cover every axis (use 1 / the current size for axes to keep). */
  resize(x: GraphValue, opts: ResizeOptions): GraphValue {
    if ((opts.sizes === undefined) === (opts.scales === undefined)) {
      throw new TensorError(
        'INVALID_ARGUMENT',
        `graph '${this.graphName}': resize needs exactly one of sizes and scales`,
      );
    }
    const scales =
      opts.scales === undefined
        ? null
        : isValue(opts.scales)
          ? opts.scales
          : this.constant([...opts.scales], [opts.scales.length], 'float32');
    const sizes = opts.sizes === undefined ? null : this.i64(opts.sizes);
    const mode = opts.mode ?? 'nearest';
    const attrs: Record<string, Attr> = {
      mode: { s: mode },
      coordinate_transformation_mode: { s: opts.coordinateTransformationMode ?? 'half_pixel' },
    };
    if (mode === 'nearest') attrs.nearest_mode = { s: opts.nearestMode ?? 'round_prefer_floor' };
    return this.one('Resize', sizes === null ? [x, null, scales] : [x, null, null, sizes], attrs);
  }
  /** Pads x; `pads` is ONNX's [x1_begin, x2_begin, …, x1_end, x2_end, …]. */
  pad(x: GraphValue, pads: Int64Operand, opts: PadOptions = {}): GraphValue {
    const inputs: GraphValue[] = [x, this.i64(pads)];
    if ((opts.mode ?? 'constant') === 'constant' && opts.value !== undefined)
      inputs.push(this.scalar(opts.value, x.dtype ?? 'float32'));
    return this.one('Pad', inputs, { mode: { s: opts.mode ?? 'constant' } });
  }
  /** Matrix product (numpy matmul semantics). */
  matmul(a: GraphValue, b: GraphValue): GraphValue {
    return this.one('MatMul', [a, b]);
  }
  /** Gathers entries of x along `axis` at integer `indices`. */
  gather(x: GraphValue, indices: GraphValue | readonly number[], axis = 0): GraphValue {
    const idx = isValue(indices) ? indices : this.ints(indices);
    return this.one('Gather', [x, idx], { axis: { i: axis } }, x.dtype);
  }

  // ---- finishing -------------------------------------------------------------------------------

  /** @internal Serialises the graph. Use {@link buildGraph}. */
  finish(): BuiltGraph {
    if (this.outputPorts.length === 0) {
      throw new TensorError('INVALID_ARGUMENT', `graph '${this.graphName}' declares no outputs`);
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'kinegraph',
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputPorts.map((p) => ({ name: p.name, type: typeProto(p.dtype, p.dims) })),
        output: this.outputPorts.map((p) => ({ name: p.name, type: typeProto(p.dtype, p.dims) })),
      },
    });
    return {
      name: this.graphName,
      // protobufjs returns a Node Buffer that may share a pooled slab; hand out a plain array of our own.
      bytes: new Uint8Array(onnx.ModelProto.encode(model).finish()),
      inputs: [...this.inputPorts],
      outputs: [...this.outputPorts],
    };
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private one(
    opType: string,
    inputs: readonly (GraphValue | null)[],
    attrs: Readonly<Record<string, Attr>> = {},
    dtype?: DType,
  ): GraphValue {
    const [out] = this.op(opType, inputs, attrs, dtype === undefined ? {} : { dtype });
    return out as GraphValue;
  }

  private unary(opType: string, x: GraphValue): GraphValue {
    return this.one(opType, [x]);
  }

  private binary(opType: string, a: Operand, b: Operand): GraphValue {
    const [x, y] = this.pair(a, b);
    return this.one(opType, [x, y], {}, x.dtype ?? y.dtype);
  }

  private compare(opType: string, a: Operand, b: Operand): GraphValue {
    const [x, y] = this.pair(a, b);
    return this.one(opType, [x, y], {}, 'bool');
  }

  /** Turns a pair of operands into values, giving JS numbers the other side's dtype. */
  private pair(a: Operand, b: Operand): [GraphValue, GraphValue] {
    if (typeof a === 'number' && typeof b === 'number') {
      return [this.scalar(a), this.scalar(b)];
    }
    const dt = (typeof a === 'number' ? undefined : a.dtype) ?? (typeof b === 'number' ? undefined : b.dtype);
    return [this.operand(a, dt), this.operand(b, dt)];
  }

  private operand(v: Operand, dtype: DType | undefined): GraphValue {
    return typeof v === 'number' ? this.scalar(v, dtype ?? 'float32') : v;
  }

  private i64(v: Int64Operand): GraphValue {
    return isValue(v) ? v : this.ints(v);
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.usedNames.has(name));
    this.usedNames.add(name);
    return name;
  }

  private claim(name: string): void {
    if (name === '' || this.usedNames.has(name)) {
      throw new TensorError(
        'INVALID_ARGUMENT',
        `graph '${this.graphName}': value name '${name}' is empty or already used`,
      );
    }
    this.usedNames.add(name);
  }
}

function isValue(v: unknown): v is GraphValue {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'value';
}

function numbersToData(values: readonly number[], dtype: DType): TensorData {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    case 'float16':
      throw new TensorError('INVALID_ARGUMENT', 'float16 constants need their bits as a Uint16Array');
  }
}

/**
 * Builds an ONNX model from a callback that declares inputs, ops and outputs.
 *
 * @example
 * const g = buildGraph('axpy', (g) => {
 *   const x = g.input('x', 'float32', ['N']);
 *   const a = g.input('a', 'float32', [1]);
 *   g.output('y', g.add(g.mul(x, a), 1));
 * });
 * const model = await store.loadModel(g.bytes);
 */
export function buildGraph(name: string, define: (g: GraphBuilder) => void): BuiltGraph {
  const g = new GraphBuilder(name);
  define(g);
  return g.finish();
}
