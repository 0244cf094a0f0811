/**
 * Messages between the tensor store (main thread) and the inference worker.
 *
 * Every request that expects an answer carries a request id (`rid`); the worker answers each exactly
 * once with a {@link WorkerResponse}. Tensor ids are allocated by the main thread, so a handle's id is
 * known before the worker has answered and is never reused within one store.
 */

import type {
  DeviceName,
  DeviceRequest,
  DType,
  GpuAdapterInfo,
  ModelOptions,
  ModelPortInfo,
  SessionPlacement,
  TensorData,
  TensorLocation,
} from '../tensor/types.js';
import type { SerializedError } from '../util/errors.js';

/** `workerData` the store starts the worker with. */
export interface WorkerInit {
  readonly device: DeviceRequest;
  /** Default intra-op thread count for sessions that do not set one. */
  readonly threads: number | undefined;
  /** Profile every session into this folder, for {@link SessionPlacement} reports (diagnostics, benchmarks). */
  readonly profileDir?: string;
}

/** The worker's first message: the resolved device, or why it could not start. */
export type WorkerHello =
  | {
      readonly type: 'ready';
      readonly device: DeviceName;
      readonly reason: string;
      readonly available: readonly DeviceName[];
      readonly adapter?: GpuAdapterInfo;
    }
  | { readonly type: 'init-error'; readonly error: SerializedError };

/** One output the main thread wants from a run, with the tensor id it has reserved for it. */
export interface RunOutputSlot {
  readonly name: string;
  readonly id: number;
}

/** Requests from the main thread. `release` and `cancel` expect no answer. */
export type WorkerRequest =
  | {
      readonly type: 'upload';
      readonly rid: number;
      readonly id: number;
      readonly dtype: DType;
      readonly dims: readonly number[];
      readonly data: TensorData;
    }
  | { readonly type: 'read'; readonly rid: number; readonly id: number }
  | { readonly type: 'release'; readonly ids: readonly number[] }
  | {
      readonly type: 'load';
      readonly rid: number;
      readonly source: string | Uint8Array;
      readonly options: ModelOptions;
    }
  | { readonly type: 'unload'; readonly rid: number; readonly model: string }
  | {
      readonly type: 'run';
      readonly rid: number;
      readonly model: string;
      readonly feeds: Readonly<Record<string, number>>;
      readonly outputs: readonly RunOutputSlot[];
    }
  | { readonly type: 'cancel'; readonly target: number }
  | { readonly type: 'inspect'; readonly rid: number }
  | { readonly type: 'placement'; readonly rid: number }
  /**
   * The last request of a store that is closing: the worker starts nothing more and answers once no call
   * into ONNX Runtime is in flight, after which its thread may be terminated (see `InferenceServer.shutdown`).
   */
  | { readonly type: 'shutdown'; readonly rid: number }
  | { readonly type: 'crash'; readonly mode: 'throw' | 'exit' };

/** Result of a successful `load`. */
export interface LoadResult {
  readonly id: string;
  readonly inputs: readonly ModelPortInfo[];
  readonly outputs: readonly ModelPortInfo[];
}

/** Description of one tensor a run produced. */
export interface OutputInfo {
  readonly id: number;
  readonly dims: readonly number[];
  readonly dtype: DType;
  readonly location: TensorLocation;
}

/** Result of a successful `run`. */
export interface RunResult {
  readonly outputs: Readonly<Record<string, OutputInfo>>;
  /** Time spent inside ORT's session.run, ms (the model's own time, without messaging or bookkeeping). */
  readonly ms: number;
}

/** The worker's own view of its state (for tests and leak hunting). */
export interface WorkerInspection {
  /** Tensors held in the worker's table (including released ones still pinned by a queued run). */
  readonly tensors: number;
  readonly sessions: number;
  readonly queuedJobs: number;
  /** Sessions created from the optimised-model cache since the worker started. */
  readonly optimizedCacheHits: number;
}

export type { SessionPlacement };

/** Answer to a request. */
export type WorkerResponse =
  | { readonly rid: number; readonly ok: true; readonly result: unknown }
  | { readonly rid: number; readonly ok: false; readonly error: SerializedError };
