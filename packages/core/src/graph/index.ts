/** The ONNX graph builder: see {@link buildGraph}. */

export type { Attr, BuiltGraph, Dim, GraphPort, GraphValue, Operand, PadOptions, ResizeOptions } from './builder.js';
export { buildGraph, GraphBuilder } from './builder.js';
