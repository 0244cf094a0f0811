/**
 * Public API of the tensor layer: the worker-backed tensor store, tensor ops for diffusion nodes,
 * the ONNX graph builder, seeded noise, and the coded errors they raise.
 */

export type {
  Attr,
  BuiltGraph,
  Dim,
  GraphPort,
  GraphValue,
  Operand,
  PadOptions,
  ResizeOptions,
} from '../graph/index.js';
export { buildGraph, GraphBuilder } from '../graph/index.js';
export type { WorkerInspection } from '../worker/protocol.js';
export { byteSize, DTYPE_BYTES, DTYPES, elementCount } from './dtype.js';
export type { TensorErrorCode } from './errors.js';
export {
  DeviceUnavailableError,
  RunAbortedError,
  StoreClosedError,
  TensorError,
  WorkerCrashedError,
} from './errors.js';
export type { ResizeMode, TensorOpsStats } from './ops.js';
export { TensorOps } from './ops.js';
export { gaussianNoise } from './random.js';
export type { ManagedTensorStore, ManagedTensorStoreStats, TensorStoreOptions } from './store.js';
export { createTensorStore } from './store.js';
export type * from './types.js';
