/**
 * The main-thread side of the tensor store: a {@link TensorStore} whose tensors and sessions live in an
 * inference worker thread (see `worker/inference-worker.ts`).
 *
 * Reference counts live here, on the main thread, because `retain`/`release` are synchronous: a handle
 * whose count reaches 0 is forgotten at once (so `stats()` is exact as soon as the call returns) and a
 * release message is sent to the worker, which frees the tensor once no queued run uses it.
 */

import { resolve as resolvePath } from 'node:path';
import { Worker } from 'node:worker_threads';
import { byteSize, dtypeOfData, ownedCopy, spansWholeBuffer, uploadProblem } from '../tensor/dtype.js';
import {
  RunAbortedError,
  rehydrateError,
  StoreClosedError,
  TensorError,
  WorkerCrashedError,
} from '../tensor/errors.js';
import { HandleLedger } from '../tensor/ledger.js';
import type {
  DeviceName,
  DeviceReport,
  DeviceRequest,
  DType,
  GpuAdapterInfo,
  ModelHandle,
  ModelOptions,
  TensorData,
  TensorHandle,
  TensorStore,
  TensorStoreStats,
} from '../tensor/types.js';
import type {
  LoadResult,
  RunResult,
  SessionPlacement,
  WorkerHello,
  WorkerInit,
  WorkerInspection,
  WorkerRequest,
  WorkerResponse,
} from './protocol.js';
import { resolveWorkerUrl } from './worker-url.js';

/** Options of {@link createTensorStore}. */
export interface TensorStoreOptions {
  /** Device to run on. Default `'cpu'`; `'auto'` picks the best available and reports why in `deviceReason`. */
  readonly device?: DeviceRequest;
  /** Default ORT intra-op thread count for sessions whose options set none. Default: ORT's default. */
  readonly threads?: number;
  /** Where the worker script is; normally found automatically (see `worker-url.ts`). */
  readonly workerUrl?: URL | string;
  /**
   * Whether the open store keeps the process alive, like any Worker does, until {@link ManagedTensorStore.close}.
   * Default true. With false, the worker holds the process only while requests are pending, so a
   * script that forgets `close()` still exits.
   */
  readonly keepAlive?: boolean;
  /**
   * Profile every ONNX Runtime session into this folder, so {@link ManagedTensorStore.placement} can say
   * which execution provider ran each node (diagnostics and benchmarks: profiling slows runs a little).
   * Default: the `KINEGRAPH_ORT_PROFILE` environment variable, else off.
   */
  readonly profileDir?: string;
}

/** {@link TensorStoreStats} plus counters that exist to catch ownership bugs. */
export interface ManagedTensorStoreStats extends TensorStoreStats {
  /** Releases of handles that were already freed (or never existed). Harmless no-ops, counted for tests. */
  readonly doubleReleases: number;
  /** Requests sent to the worker that have not been answered yet. */
  readonly pendingRequests: number;
  /** Per model (pool id): runs and milliseconds spent inside ORT's session.run, for benchmarks. */
  readonly modelTime: Readonly<Record<string, { readonly calls: number; readonly ms: number }>>;
  /**
   * Bytes copied out of GPU memory into CPU memory by explicit reads of GPU tensors (VideoEncode, previews):
   * on webgpu every `read()` of a `gpu-buffer` handle; 0 on cpu. Copies ONNX Runtime makes inside a run
   * (around nodes it runs on the CPU) are reported per session by {@link ManagedTensorStore.placement}.
   */
  readonly bytesGpuToCpu: number;
  /**
   * Bytes of CPU-resident tensors (uploads: noise, scalars, decoded frames) fed to runs on webgpu, which
   * ONNX Runtime copies into GPU memory for the run; 0 on cpu.
   */
  readonly bytesCpuToGpu: number;
  /** Bytes of live tensors in GPU memory (part of `liveBytes`); 0 on cpu. */
  readonly liveGpuBytes: number;
  /** Highest `liveGpuBytes` since creation or the last {@link ManagedTensorStore.resetPeak}. */
  readonly peakGpuBytes: number;
}

/** A {@link TensorStore} that owns an inference worker: what {@link createTensorStore} returns. */
export interface ManagedTensorStore extends TensorStore {
  /** Why this device was chosen (e.g. "auto: fell back to cpu because …"). */
  readonly deviceReason: string;
  /** Every device usable in this process, as far as the worker probed (a `cpu` request does not probe). */
  readonly availableDevices: readonly DeviceName[];
  /** The WebGPU adapter the probe described (`webgpu` and `auto` requests); undefined on a plain cpu request. */
  readonly adapter: GpuAdapterInfo | undefined;
  /** Device, reason, available devices and adapter in one plain object (for events and output metadata). */
  deviceReport(): DeviceReport;
  stats(): ManagedTensorStoreStats;
  /** Restarts the `peakBytes` high-water mark at the current `liveBytes`. */
  resetPeak(): void;
  /**
   * Like {@link TensorStore.upload} but moves the array's buffer to the worker instead of copying it:
   * zero-copy, and `data` is detached (unusable) afterwards. Falls back to a copy when `data` is a view
   * into a larger or shared buffer. For I/O nodes that decode a frame only to upload it.
   */
  uploadOwned(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle>;
  /**
   * Drops a model's pooled session once the runs already queued on it have finished. The pool is
   * shared, so only a model's owner should do this — e.g. a StyleAdapter replacing the session of a
   * superseded α. Later runs with the handle reject with `UNKNOWN_MODEL`; unloading twice is a no-op.
   */
  unloadModel(model: ModelHandle): Promise<void>;
  /** The worker's own counts (tensors it still holds, sessions, queued jobs), for tests and leak hunts. */
  inspectWorker(): Promise<WorkerInspection>;
  /**
   * For a store started with `profileDir`: where ONNX Runtime ran each session's nodes, after the runs sent
   * so far. Ends the profiling of every session made until now (later sessions are profiled anew). An empty
   * list when profiling is off.
   */
  placement(): Promise<SessionPlacement[]>;
  /**
   * Resolves once the worker has answered every request sent so far — including runs that were
   * aborted on this side but were still queued or running there. Useful before shutdown and in tests.
   */
  whenIdle(): Promise<void>;
  /**
   * Stops the worker and frees every tensor and session. Pending requests reject with `STORE_CLOSED` at
   * once; the promise resolves once the thread has ended, which waits for ONNX Runtime to return from the
   * call it is in (a run cannot be interrupted). Hosts await it before exiting the process: exiting while
   * the worker is inside ONNX Runtime aborts the process. Closing twice returns the same promise.
   */
  close(): Promise<void>;
}

interface Pending {
  /** Called with the worker's answer. */
  reply(r: WorkerResponse): void;
  /** Called when the worker dies or the store closes before answering. */
  die(err: TensorError): void;
}

/**
 * Starts an inference worker on the requested device and returns a store bound to it.
 * Rejects with `DEVICE_UNAVAILABLE` (listing the available devices) when the device cannot be used,
 * and with `WORKER_NOT_FOUND` when the worker script has not been built.
 */
export async function createTensorStore(options: TensorStoreOptions = {}): Promise<ManagedTensorStore> {
  return WorkerTensorStore.start(options);
}

/** In-memory models up to this size are remembered by their bytes object (see `#fromBytes`). */
const MEMO_MAX_BYTES = 1 << 20;

/** The {@link ManagedTensorStore} implementation. Exported for tests (see {@link WorkerTensorStore.simulateCrash}). */
export class WorkerTensorStore implements ManagedTensorStore {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #ledger = new HandleLedger();
  readonly #models = new Set<string>();
  /**
   * Models loaded from small in-memory bytes (op graphs), by the bytes object, then by options: callers load
   * the same graph at every step of a loop, and each load was a round trip to the worker. The stored copy is
   * compared on every hit, so bytes changed in place load afresh.
   */
  readonly #fromBytes = new WeakMap<Uint8Array, Map<string, { copy: Uint8Array; model: Promise<ModelHandle> }>>();
  #releaseBatch: number[] = [];
  #idleWaiters: (() => void)[] = [];
  readonly #keepAlive: boolean;
  #nextRid = 1;
  #nextTensorId = 1;
  #bytesToJs = 0;
  #bytesFromJs = 0;
  #bytesGpuToCpu = 0;
  #bytesCpuToGpu = 0;
  #runs = 0;
  readonly #modelTime = new Map<string, { calls: number; ms: number }>();
  /** Set once the worker is gone (closed or crashed): makes every later request fail with this. */
  #dead: (() => TensorError) | undefined;
  /** The closing in progress, once `close()` was called. */
  #closing: Promise<void> | undefined;
  /** The worker's answer to the `shutdown` request that closing sends. */
  #shutdownReply: { rid: number; done: () => void } | undefined;

  private constructor(
    worker: Worker,
    readonly device: DeviceName,
    readonly deviceReason: string,
    readonly availableDevices: readonly DeviceName[],
    keepAlive: boolean,
    readonly adapter: GpuAdapterInfo | undefined,
  ) {
    this.#worker = worker;
    worker.on('message', (r: WorkerResponse) => this.#onReply(r));
    worker.on('error', (err) => this.#onDeath(`uncaught error in the worker: ${err.message}`));
    worker.on('messageerror', (err) => this.#onDeath(`undecodable message: ${err.message}`));
    worker.on('exit', (code) => this.#onDeath(`the worker exited with code ${code}`));
    this.#keepAlive = keepAlive;
    if (!keepAlive) worker.unref(); // then referenced only while requests are pending (see #send)
  }

  /** @internal Use {@link createTensorStore}. */
  static async start(options: TensorStoreOptions): Promise<WorkerTensorStore> {
    const profileDir = options.profileDir ?? (process.env.KINEGRAPH_ORT_PROFILE || undefined);
    const init: WorkerInit = {
      device: options.device ?? 'cpu',
      threads: options.threads,
      ...(profileDir !== undefined ? { profileDir: resolvePath(profileDir) } : {}),
    };
    const worker = new Worker(resolveWorkerUrl(options.workerUrl), { workerData: init, name: 'kinegraph-inference' });
    const hello = await new Promise<WorkerHello>((resolve, reject) => {
      const onMessage = (m: WorkerHello): void => settle(() => resolve(m));
      const onError = (err: Error): void =>
        settle(() => reject(new WorkerCrashedError(`while starting: ${err.message}`)));
      const onExit = (code: number): void =>
        settle(() => reject(new WorkerCrashedError(`while starting: exited with code ${code}`)));
      const settle = (fn: () => void): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        fn();
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    if (hello.type === 'init-error') {
      await worker.terminate();
      throw rehydrateError(hello.error);
    }
    return new WorkerTensorStore(
      worker,
      hello.device,
      hello.reason,
      hello.available,
      options.keepAlive ?? true,
      hello.adapter,
    );
  }

  // ---- tensors ---------------------------------------------------------------------------------

  upload(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle> {
    return this.#upload(data, dims, dtype, false);
  }

  uploadOwned(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle> {
    return this.#upload(data, dims, dtype, true);
  }

  async #upload(
    data: TensorData,
    dims: readonly number[],
    dtype: DType | undefined,
    move: boolean,
  ): Promise<TensorHandle> {
    const dt = dtype ?? dtypeOfData(data);
    const problem = uploadProblem(data, dims, dt);
    if (problem !== null) throw new TensorError('INVALID_ARGUMENT', `upload: ${problem}`);
    // Transfer a buffer that holds exactly this tensor: the caller's own when they give it up, else a copy
    // (structured cloning a view would copy its whole underlying buffer, and could not be transferred).
    const payload = move && spansWholeBuffer(data) ? data : ownedCopy(data);
    const id = this.#nextTensorId++;
    const frozenDims = Object.freeze([...dims]);
    await this.#call(
      (rid) => ({ type: 'upload', rid, id, dtype: dt, dims: frozenDims, data: payload }),
      [payload.buffer as ArrayBuffer],
    );
    const bytes = byteSize(dims, dt);
    this.#bytesFromJs += bytes;
    return this.#register({ kind: 'tensor', id, dims: frozenDims, dtype: dt, location: 'cpu' }, bytes);
  }

  async read(handle: TensorHandle): Promise<TensorData> {
    this.#assertLive(handle, 'read');
    const data = await this.#call<TensorData>((rid) => ({ type: 'read', rid, id: handle.id }));
    this.#bytesToJs += data.byteLength;
    if (handle.location === 'gpu-buffer') this.#bytesGpuToCpu += data.byteLength;
    return data;
  }

  retain(handle: TensorHandle): void {
    this.#assertAlive();
    this.#ledger.retain(handle.id);
  }

  release(handle: TensorHandle): void {
    if (this.#dead !== undefined) return; // everything is already freed
    if (this.#ledger.release(handle.id) !== 'freed') return;
    // Releases often come in bursts (end of a node); one message per burst is enough.
    if (this.#releaseBatch.length === 0) queueMicrotask(() => this.#flushReleases());
    this.#releaseBatch.push(handle.id);
  }

  // ---- models ----------------------------------------------------------------------------------

  /**
   * Loads a model, or returns the pooled session for the same model, device and options.
   * Paths are resolved against the current directory. Models must embed their weights (no external
   * data) when `initializerOverrides` is used.
   */
  async loadModel(source: string | Uint8Array, options: ModelOptions = {}): Promise<ModelHandle> {
    if (
      typeof source === 'string' ||
      options.initializerOverrides !== undefined ||
      options.appendGraph !== undefined ||
      source.byteLength > MEMO_MAX_BYTES
    ) {
      return this.#load(source, options);
    }
    const key = `${options.graphOptimizationLevel ?? ''}|${options.intraOpNumThreads ?? ''}`;
    let byOptions = this.#fromBytes.get(source);
    if (!byOptions) this.#fromBytes.set(source, (byOptions = new Map()));
    const known = byOptions.get(key);
    if (known && Buffer.from(source.buffer, source.byteOffset, source.byteLength).equals(known.copy)) {
      const model = await known.model.catch(() => undefined);
      if (model && this.#models.has(model.id)) return model;
    }
    const entry = { copy: new Uint8Array(source), model: this.#load(source, options) };
    byOptions.set(key, entry);
    entry.model.catch(() => {
      if (byOptions.get(key) === entry) byOptions.delete(key);
    });
    return entry.model;
  }

  async #load(source: string | Uint8Array, options: ModelOptions): Promise<ModelHandle> {
    // A copy that owns its buffer (never `slice()`: on a Buffer that is a view), so it can be transferred.
    const src = typeof source === 'string' ? resolvePath(source) : new Uint8Array(source);
    // Only the known options cross the boundary (anything else could not be cloned, or would be ignored).
    const opts: ModelOptions = {
      ...(options.graphOptimizationLevel !== undefined
        ? { graphOptimizationLevel: options.graphOptimizationLevel }
        : {}),
      ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.initializerOverrides !== undefined ? { initializerOverrides: options.initializerOverrides } : {}),
      ...(options.appendGraph !== undefined
        ? { appendGraph: { bytes: options.appendGraph.bytes, links: { ...options.appendGraph.links } } }
        : {}),
    };
    const res = await this.#call<LoadResult>(
      (rid) => ({ type: 'load', rid, source: src, options: opts }),
      typeof src === 'string' ? [] : [src.buffer as ArrayBuffer],
    );
    this.#models.add(res.id);
    return Object.freeze({
      kind: 'model',
      id: res.id,
      inputNames: res.inputs.map((p) => p.name),
      outputNames: res.outputs.map((p) => p.name),
      inputs: res.inputs,
      outputs: res.outputs,
    });
  }

  async unloadModel(model: ModelHandle): Promise<void> {
    this.#models.delete(model.id);
    await this.#call((rid) => ({ type: 'unload', rid, model: model.id }));
  }

  /**
   * Runs a model on handles; resolves to one new handle per output (default: every output).
   * Aborting rejects at once with an `AbortError`: a run not yet started in the worker is dropped, one
   * already running finishes there and its outputs are freed unseen.
   */
  run(
    model: ModelHandle,
    feeds: Readonly<Record<string, TensorHandle>>,
    outputNames?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Record<string, TensorHandle>> {
    try {
      this.#assertAlive();
      if (signal?.aborted) throw new RunAbortedError('The run was aborted before it was sent.');
      this.#checkFeeds(model, feeds);
    } catch (err) {
      return Promise.reject(err);
    }
    const names = outputNames ?? model.outputNames;
    const unknown = names.filter((n) => !model.outputNames.includes(n));
    if (unknown.length > 0) {
      return Promise.reject(
        new TensorError(
          'INVALID_ARGUMENT',
          `run: model has no output ${unknown.join(', ')}; outputs: ${model.outputNames.join(', ')}`,
        ),
      );
    }
    const slots = names.map((name) => ({ name, id: this.#nextTensorId++ }));
    const feedIds = Object.fromEntries(Object.entries(feeds).map(([k, h]) => [k, h.id]));
    const cpuFeedBytes =
      this.device === 'webgpu'
        ? Object.values(feeds).reduce((n, h) => n + (h.location === 'cpu' ? byteSize(h.dims, h.dtype) : 0), 0)
        : 0;
    const rid = this.#nextRid++;
    return new Promise((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        this.#post({ type: 'cancel', target: rid });
        reject(new RunAbortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(rid, {
        reply: (r) => {
          signal?.removeEventListener('abort', onAbort);
          if (settled) {
            // Aborted here after the worker had already finished: nobody will see these outputs.
            if (r.ok) this.#post({ type: 'release', ids: slots.map((s) => s.id) });
            return;
          }
          settled = true;
          if (!r.ok) return reject(rehydrateError(r.error));
          this.#runs++;
          this.#bytesCpuToGpu += cpuFeedBytes;
          const timing = this.#modelTime.get(model.id) ?? { calls: 0, ms: 0 };
          timing.calls++;
          timing.ms += (r.result as RunResult).ms;
          this.#modelTime.set(model.id, timing);
          const out: Record<string, TensorHandle> = {};
          for (const [name, info] of Object.entries((r.result as RunResult).outputs)) {
            const handle: TensorHandle = {
              kind: 'tensor',
              id: info.id,
              dims: Object.freeze([...info.dims]),
              dtype: info.dtype,
              location: info.location,
            };
            out[name] = this.#register(handle, byteSize(info.dims, info.dtype));
          }
          resolve(out);
        },
        die: (err) => {
          signal?.removeEventListener('abort', onAbort);
          if (!settled) {
            settled = true;
            reject(err);
          }
        },
      });
      this.#send(rid, { type: 'run', rid, model: model.id, feeds: feedIds, outputs: slots }, []);
    });
  }

  // ---- introspection and lifetime --------------------------------------------------------------

  stats(): ManagedTensorStoreStats {
    return {
      liveTensors: this.#ledger.liveTensors,
      liveBytes: this.#ledger.liveBytes,
      peakBytes: this.#ledger.peakBytes,
      bytesToJs: this.#bytesToJs,
      bytesFromJs: this.#bytesFromJs,
      sessions: this.#models.size,
      runs: this.#runs,
      modelTime: Object.fromEntries([...this.#modelTime].map(([id, t]) => [id, { ...t }])),
      bytesGpuToCpu: this.#bytesGpuToCpu,
      bytesCpuToGpu: this.#bytesCpuToGpu,
      liveGpuBytes: this.#ledger.liveGpuBytes,
      peakGpuBytes: this.#ledger.peakGpuBytes,
      doubleReleases: this.#ledger.doubleReleases,
      pendingRequests: this.#pending.size,
    };
  }

  resetPeak(): void {
    this.#ledger.resetPeak();
  }

  whenIdle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  inspectWorker(): Promise<WorkerInspection> {
    return this.#call<WorkerInspection>((rid) => ({ type: 'inspect', rid }));
  }

  deviceReport(): DeviceReport {
    return {
      device: this.device,
      reason: this.deviceReason,
      available: [...this.availableDevices],
      ...(this.adapter !== undefined ? { adapter: { ...this.adapter } } : {}),
    };
  }

  placement(): Promise<SessionPlacement[]> {
    return this.#call<SessionPlacement[]>((rid) => ({ type: 'placement', rid }));
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#dead !== undefined) return Promise.resolve(); // crashed: the thread is gone already
    // Asked before the store is marked dead, as a dead store sends nothing.
    const idle = this.#workerIdle();
    this.#kill(() => new StoreClosedError());
    // An unreferenced worker would let the process exit before its termination is reported, leaving
    // this promise (and e.g. a CLI's top-level await) unsettled.
    this.#worker.ref();
    this.#closing = idle.then(async () => {
      await this.#worker.terminate();
    });
    return this.#closing;
  }

  /**
   * Resolves once the worker has started nothing more and no call into ONNX Runtime is in flight there
   * (or the worker has exited): only then may its thread be terminated, as terminating it inside ONNX
   * Runtime aborts the process (see `InferenceServer.shutdown`). At most the one call in flight is waited for.
   */
  #workerIdle(): Promise<void> {
    const rid = this.#nextRid++;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.#worker.off('exit', done);
        this.#shutdownReply = undefined;
        resolve();
      };
      this.#shutdownReply = { rid, done };
      this.#worker.once('exit', done);
      this.#post({ type: 'shutdown', rid });
    });
  }

  /**
   * Test hook: makes the worker die as if it had crashed — `'exit'` ends the thread, `'throw'` raises
   * an uncaught exception in it. Every pending request then rejects with `WORKER_CRASHED`.
   */
  simulateCrash(mode: 'exit' | 'throw' = 'exit'): void {
    this.#post({ type: 'crash', mode });
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #register(handle: TensorHandle, bytes: number): TensorHandle {
    this.#ledger.register(handle.id, bytes, handle.location === 'gpu-buffer');
    return Object.freeze(handle);
  }

  #checkFeeds(model: ModelHandle, feeds: Readonly<Record<string, TensorHandle>>): void {
    if (model?.kind !== 'model')
      throw new TensorError('INVALID_ARGUMENT', 'run: the first argument is not a ModelHandle');
    const names = Object.keys(feeds);
    const unknown = names.filter((n) => !model.inputNames.includes(n));
    const missing = model.inputNames.filter((n) => !names.includes(n));
    if (unknown.length > 0 || missing.length > 0) {
      const parts = [
        unknown.length ? `unknown input(s) ${unknown.join(', ')}` : '',
        missing.length ? `missing input(s) ${missing.join(', ')}` : '',
      ];
      throw new TensorError(
        'INVALID_ARGUMENT',
        `run: ${parts.filter(Boolean).join('; ')}; model inputs: ${model.inputNames.join(', ')}`,
      );
    }
    for (const h of Object.values(feeds)) this.#assertLive(h, 'run');
  }

  #assertAlive(): void {
    if (this.#dead !== undefined) throw this.#dead();
  }

  #assertLive(handle: TensorHandle, op: string): void {
    this.#assertAlive();
    if (handle?.kind !== 'tensor' || !this.#ledger.has(handle.id)) {
      throw new TensorError(
        'TENSOR_RELEASED',
        `${op}: tensor ${String(handle?.id)} was released or belongs to another store`,
      );
    }
  }

  #call<T>(build: (rid: number) => WorkerRequest, transfer: readonly ArrayBuffer[] = []): Promise<T> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead());
    const rid = this.#nextRid++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(rid, {
        reply: (r) => (r.ok ? resolve(r.result as T) : reject(rehydrateError(r.error))),
        die: reject,
      });
      this.#send(rid, build(rid), transfer);
    });
  }

  /**
   * Posts a request whose `Pending` entry is already registered. The worker is kept referenced (the
   * process kept alive) while any request is pending. A message that cannot be cloned fails its own
   * request instead of leaving it pending forever.
   */
  #send(rid: number, msg: WorkerRequest, transfer: readonly ArrayBuffer[]): void {
    if (this.#pending.size === 1 && !this.#keepAlive) this.#worker.ref();
    try {
      this.#post(msg, transfer);
    } catch (err) {
      const p = this.#pending.get(rid);
      this.#pending.delete(rid);
      p?.die(new TensorError('INVALID_ARGUMENT', `cannot send the request to the worker: ${(err as Error).message}`));
      if (this.#pending.size === 0) this.#becameIdle();
    }
  }

  #onReply(r: WorkerResponse): void {
    if (r.rid === this.#shutdownReply?.rid) {
      this.#shutdownReply.done();
      return;
    }
    const p = this.#pending.get(r.rid);
    if (p === undefined) return;
    this.#pending.delete(r.rid);
    p.reply(r);
    if (this.#pending.size === 0) this.#becameIdle();
  }

  #becameIdle(): void {
    if (!this.#keepAlive || this.#dead !== undefined) this.#worker.unref();
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #post(msg: WorkerRequest, transfer: readonly ArrayBuffer[] = []): void {
    if (this.#dead !== undefined) return;
    // Batched releases go first, so the worker sees every message in the order the calls were made.
    if (msg.type !== 'release') this.#flushReleases();
    this.#worker.postMessage(msg, transfer);
  }

  #flushReleases(): void {
    const ids = this.#releaseBatch;
    if (ids.length === 0) return;
    this.#releaseBatch = [];
    this.#post({ type: 'release', ids });
  }

  #onDeath(why: string): void {
    this.#kill(() => new WorkerCrashedError(why));
  }

  /** Marks the store dead, fails every pending request and forgets every tensor (they died with the worker). */
  #kill(error: () => TensorError): void {
    if (this.#dead !== undefined) return;
    this.#dead = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#ledger.clear();
    this.#releaseBatch = [];
    for (const p of pending) p.die(error());
    this.#becameIdle();
  }
}
