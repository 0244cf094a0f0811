/**
 * The tensor contract between nodes, the scheduler and the inference worker.
 *
 * Nodes never hold tensor data: they hold {@link TensorHandle}s, small serialisable records that name a
 * tensor living in the inference worker (in CPU memory, or in GPU memory on a GPU execution provider).
 * Data crosses into the main thread only when a node explicitly calls {@link TensorStore.read}.
 */

/** Element types a tensor can have. */
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

/** Where a tensor's data lives: host memory, or a GPU buffer owned by the execution provider. */
export type TensorLocation = 'cpu' | 'gpu-buffer';

/** Devices a user can ask for. `auto` picks the best available one and reports which. */
export type DeviceName = 'cpu' | 'webgpu';
export type DeviceRequest = DeviceName | 'auto';

/**
 * A WebGPU adapter as Dawn describes it (the fields of WebGPU's `GPUAdapterInfo`), plus whether it is a
 * software implementation running on the CPU (Mesa's lavapipe, SwiftShader), which `auto` never picks.
 */
export interface GpuAdapterInfo {
  /** e.g. `nvidia`, `amd`, `intel`, `mesa`. */
  readonly vendor: string;
  /** e.g. `hopper`, `rdna-3`, `gen-12lp`; `software` for CPU implementations. */
  readonly architecture: string;
  readonly device: string;
  /** The driver's name for the adapter, e.g. `NVIDIA H200` or `llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)`. */
  readonly description: string;
  readonly software: boolean;
}

/**
 * Which device a store runs on and why: what `kinegraph run --json` prints as its `device` event and what
 * saved outputs record in their embedded workflow's `metadata.device`.
 */
export interface DeviceReport {
  readonly device: DeviceName;
  /** e.g. "auto: chose cpu because the only WebGPU adapter is a software one (…)". */
  readonly reason: string;
  /** Every device usable here, as far as the store probed (a `cpu` request does not probe). */
  readonly available: readonly DeviceName[];
  /** The WebGPU adapter, when one was probed and described. */
  readonly adapter?: GpuAdapterInfo;
}

/**
 * Where ONNX Runtime ran one session's nodes, from its profiler (a store started with `profileDir`).
 * Sessions on webgpu can still run some nodes on the CPU execution provider (ops the WebGPU EP lacks, or
 * shape arithmetic ORT keeps on the CPU); the Memcpy nodes ORT inserts around them are the GPU↔CPU copies.
 */
export interface SessionPlacement {
  /** The model: file name, or the op graph's name (`axpby:float32`), `+` an appended graph's name. */
  readonly label: string;
  readonly runs: number;
  /** Node runs per execution provider (`WebGpuExecutionProvider`, `CPUExecutionProvider`). */
  readonly nodeRuns: Readonly<Record<string, number>>;
  /** Kernel milliseconds per execution provider. */
  readonly kernelMs: Readonly<Record<string, number>>;
  /** Op types that ran on the CPU execution provider (excluding the Memcpy nodes themselves). */
  readonly cpuOps: readonly string[];
  /** Bytes ORT copied from GPU to CPU memory inside this session's runs (MemcpyToHost). */
  readonly gpuToCpuBytes: number;
  /** Bytes ORT copied from CPU to GPU memory inside this session's runs (MemcpyFromHost). */
  readonly cpuToGpuBytes: number;
}

/** Typed arrays accepted and returned for tensor data. */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** A reference to a tensor owned by the inference worker. Plain data: safe to post, hash and log. */
export interface TensorHandle {
  readonly kind: 'tensor';
  /** Unique id within one store. Never reused. */
  readonly id: number;
  readonly dims: readonly number[];
  readonly dtype: DType;
  readonly location: TensorLocation;
}

/** A loaded ONNX model (a pooled inference session). Plain data. */
export interface ModelHandle {
  readonly kind: 'model';
  /** Pool key: stable for the same model bytes, device and options. */
  readonly id: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared input/output metadata from the model file (dims may contain symbolic names). */
  readonly inputs: readonly ModelPortInfo[];
  readonly outputs: readonly ModelPortInfo[];
}

export interface ModelPortInfo {
  readonly name: string;
  readonly dtype: DType | string;
  readonly dims: readonly (number | string)[];
}

/** Session options that affect the pool key. */
export interface ModelOptions {
  /** ORT graph optimisation level. Default 'all'. */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Intra-op threads. Default: the store's thread setting (ORT's default when unset) for models of 1 MiB
   * and more; 1 for smaller ones (op graphs), whose own spinning thread pools would slow the big models.
   */
  readonly intraOpNumThreads?: number;
  /** Replace named initializers before creating the session (StyleAdapter interpolation). */
  readonly initializerOverrides?: Readonly<Record<string, TensorData>>;
  /**
   * An op graph appended to the model (after any initializer overrides), so one session runs both: for
   * math that always follows the model, such as a sampler's update step, saving a separate call.
   */
  readonly appendGraph?: AppendedGraph;
}

/**
 * An ONNX graph (e.g. `buildGraph(...).bytes`) to append to a model. Each `links` entry feeds one of its
 * inputs from a value of the model (`{ pred: 'prediction' }`: the model's output; a model input works
 * too); its other inputs become inputs of the combined model, and its outputs are added to the model's. Both graphs must use the same default-domain opset (built graphs use 17).
 */
export interface AppendedGraph {
  readonly bytes: Uint8Array;
  readonly links: Readonly<Record<string, string>>;
}

/** Counters the store keeps, for tests and benchmarks. */
export interface TensorStoreStats {
  /** Tensors alive in the worker. */
  readonly liveTensors: number;
  readonly liveBytes: number;
  /** Highest liveBytes seen since creation (or the last resetPeak). */
  readonly peakBytes: number;
  /** Bytes copied from the worker into the main thread by read(). */
  readonly bytesToJs: number;
  /** Bytes copied from the main thread into the worker by upload(). */
  readonly bytesFromJs: number;
  readonly sessions: number;
  readonly runs: number;
}

/** The counters of a store that holds nothing and has done nothing (yet, or any more). */
export const EMPTY_STORE_STATS: TensorStoreStats = Object.freeze({
  liveTensors: 0,
  liveBytes: 0,
  peakBytes: 0,
  bytesToJs: 0,
  bytesFromJs: 0,
  sessions: 0,
  runs: 0,
});

/**
 * The device-side tensor API nodes get as `ctx.tensors`. All methods are asynchronous messages to the
 * inference worker; the main thread never blocks on ORT.
 *
 * Ownership: every handle returned by a method starts with one reference owned by the caller. Call
 * {@link release} when done; the scheduler retains/releases node outputs for you.
 */
export interface TensorStore {
  /** The device this store runs on. */
  readonly device: DeviceName;
  /** Copy data from JS into the worker (counted in bytesFromJs). */
  upload(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle>;
  /** Copy a tensor's data into JS (counted in bytesToJs). Only for I/O nodes: images, video, previews. */
  read(handle: TensorHandle): Promise<TensorData>;
  retain(handle: TensorHandle): void;
  release(handle: TensorHandle): void;
  /** Load (or reuse from the pool) a session for a model file path or bytes. */
  loadModel(source: string | Uint8Array, options?: ModelOptions): Promise<ModelHandle>;
  /** Run a model on handles. Returns one new handle per requested output (default: all outputs). */
  run(
    model: ModelHandle,
    feeds: Readonly<Record<string, TensorHandle>>,
    outputNames?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Record<string, TensorHandle>>;
  stats(): TensorStoreStats;
}
