/**
 * Public API of the tensor layer: the worker-backed tensor store, tensor ops for diffusion nodes,
 * the ONNX graph builder, seeded noise, and the coded errors they raise.
 */
export type * from './types.js';
export { createTensorStore } from './store.js';
export type { ManagedTensorStore, ManagedTensorStoreStats, TensorStoreOptions } from './store.js';
export type { WorkerInspection } from '../worker/protocol.js';
export { TensorOps } from './ops.js';
export type { ResizeMode, TensorOpsStats } from './ops.js';
export { gaussianNoise } from './random.js';
export { DTYPES, DTYPE_BYTES, byteSize, elementCount } from './dtype.js';
export {
  DeviceUnavailableError,
  RunAbortedError,
  StoreClosedError,
  TensorError,
  WorkerCrashedError,
} from './errors.js';
export type { TensorErrorCode } from './errors.js';
export { buildGraph, GraphBuilder } from '../graph/index.js';
export type { Attr, BuiltGraph, Dim, GraphPort, GraphValue, Operand, PadOptions, ResizeOptions } from '../graph/index.js';
