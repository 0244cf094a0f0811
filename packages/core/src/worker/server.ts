/**
 * The inference worker's request handler: owns every ORT session and tensor of one store.
 *
 * Uploads, reads and releases are handled as they arrive. Loads and runs go through a FIFO queue and
 * execute one at a time — ORT blocks the thread during a run anyway, and the queue gives a clear
 * "not started yet" state in which a cancelled run can be dropped without running it.
 *
 * Tensors used by a queued or running job are pinned: a release that arrives meanwhile only marks
 * them, and they are freed when the last job using them finishes.
 */
import type { TransferListItem } from 'node:worker_threads';
import { modelSourceKey, sessionKey } from '../backend/model-key.js';
import type { OrtTensor } from '../backend/onnx.js';
import {
  describeTensor,
  disposeTensor,
  endProfiling,
  makeTensor,
  profileReadbacks,
  readbackSessionList,
  readTensor,
  releaseSession,
  runSession,
} from '../backend/onnx.js';
import { RunAbortedError, serializeTensorError, TensorError } from '../tensor/errors.js';
import type { DeviceName, ModelOptions } from '../tensor/types.js';
import type { SerializedError } from '../util/errors.js';
import { type PreparedSession, prepareModel } from './prepare-model.js';
import type {
  LoadResult,
  OutputInfo,
  RunOutputSlot,
  SessionPlacement,
  WorkerInspection,
  WorkerRequest,
  WorkerResponse,
} from './protocol.js';

/** Sends a message to the main thread, moving the listed buffers. */
export type Post = (msg: WorkerResponse, transfer?: readonly TransferListItem[]) => void;

interface TensorEntry {
  readonly tensor: OrtTensor;
  /** Number of queued/running jobs that use this tensor. */
  pins: number;
  /** The main thread released it; free when `pins` drops to 0. */
  released: boolean;
}

type SessionEntry = PreparedSession & {
  /** Set when profiling: where ORT writes this session's profile, and the model's name for reports. */
  readonly profile?: { readonly prefix: string; readonly label: string };
};

interface Job {
  readonly rid: number;
  readonly pinned: readonly number[];
  cancelled: boolean;
  readonly exec: (job: Job) => Promise<{ result: unknown; transfer?: TransferListItem[] }>;
}

/** Handles the requests of one store. Construct once per worker. */
export class InferenceServer {
  private readonly tensors = new Map<number, TensorEntry>();
  private readonly sessions = new Map<string, Promise<SessionEntry>>();
  private optimizedCacheHits = 0;
  private readonly queue: Job[] = [];
  private running: Job | undefined;
  private pumpScheduled = false;
  /** Placement reports of profiled sessions already ended (unloaded, or reported once). */
  private readonly placements: SessionPlacement[] = [];
  private profiled = 0;
  /** Tensor reads awaiting their data (a GPU download is asynchronous). */
  private readsInFlight = 0;
  /** Set by a `shutdown` request: its id, answered once nothing is in flight. */
  private shutdownRid: number | undefined;
  private shutdownAnswered = false;

  constructor(
    private readonly device: DeviceName,
    private readonly defaultThreads: number | undefined,
    private readonly post: Post,
    /** Profile every session into this folder (see {@link SessionPlacement}). */
    private readonly profileDir?: string,
  ) {
    if (profileDir !== undefined) profileReadbacks(() => this.profilePrefix());
  }

  private profilePrefix(): string {
    return `${this.profileDir}/s${++this.profiled}`;
  }

  /** Dispatches one request from the main thread. */
  handle(msg: WorkerRequest): void {
    switch (msg.type) {
      case 'upload':
        this.reply(msg.rid, () => {
          this.tensors.set(msg.id, { tensor: makeTensor(msg.dtype, msg.data, msg.dims), pins: 0, released: false });
          return { result: null };
        });
        return;
      case 'read':
        void this.read(msg.rid, msg.id);
        return;
      case 'release':
        for (const id of msg.ids) this.release(id);
        return;
      case 'load':
        this.enqueue(msg.rid, [], () => this.load(msg.source, msg.options));
        return;
      case 'unload': {
        // Forget the key now, so runs sent after the unload fail cleanly; release the session only
        // after the jobs already queued (which hold it) have run.
        const pending = this.sessions.get(msg.model);
        this.sessions.delete(msg.model);
        this.enqueue(msg.rid, [], async () => {
          const entry = await pending?.catch(() => undefined);
          if (entry !== undefined) {
            await this.endProfile(entry);
            await releaseSession(entry.session).catch(() => undefined);
          }
          return { result: null };
        });
        return;
      }
      case 'run':
        this.enqueueRun(msg.rid, msg.model, msg.feeds, msg.outputs);
        return;
      case 'cancel':
        this.cancel(msg.target);
        return;
      case 'inspect': {
        const result: WorkerInspection = {
          tensors: this.tensors.size,
          sessions: this.sessions.size,
          queuedJobs: this.queue.length,
          optimizedCacheHits: this.optimizedCacheHits,
        };
        this.post({ rid: msg.rid, ok: true, result });
        return;
      }
      case 'placement':
        // Behind the queued runs, so their nodes are in the report.
        this.enqueue(msg.rid, [], async () => ({ result: await this.placement() }));
        return;
      case 'shutdown':
        this.shutdown(msg.rid);
        return;
      case 'crash':
        // Test hook: simulate a worker dying mid-flight, both ways it can happen.
        if (msg.mode === 'exit') process.exit(70);
        throw new Error('inference worker crash requested by a test');
    }
  }

  // ---- tensors ---------------------------------------------------------------------------------

  private async read(rid: number, id: number): Promise<void> {
    const entry = this.tensors.get(id);
    if (entry === undefined || entry.released) return this.fail(rid, unknownTensor(id));
    entry.pins++;
    this.readsInFlight++;
    try {
      const data = await readTensor(entry.tensor);
      this.post({ rid, ok: true, result: data }, [data.buffer as ArrayBuffer]);
    } catch (err) {
      this.fail(rid, serializeTensorError(err));
    } finally {
      this.unpin(id);
      this.readsInFlight--;
      this.answerShutdownOnceIdle();
    }
  }

  private release(id: number): void {
    const entry = this.tensors.get(id);
    if (entry === undefined) return; // the main thread counts double releases; nothing to do here
    entry.released = true;
    if (entry.pins === 0) this.free(id, entry);
  }

  private unpin(id: number): void {
    const entry = this.tensors.get(id);
    if (entry === undefined) return;
    entry.pins--;
    if (entry.released && entry.pins === 0) this.free(id, entry);
  }

  private free(id: number, entry: TensorEntry): void {
    this.tensors.delete(id);
    disposeTensor(entry.tensor);
  }

  // ---- sessions --------------------------------------------------------------------------------

  private async load(source: string | Uint8Array, options: ModelOptions): Promise<{ result: LoadResult }> {
    const key = sessionKey(await modelSourceKey(source), this.device, options, this.defaultThreads);
    let pending = this.sessions.get(key);
    if (pending === undefined) {
      const profile =
        this.profileDir === undefined
          ? undefined
          : { prefix: this.profilePrefix(), label: await sessionLabel(source, options) };
      pending = prepareModel(source, options, {
        device: this.device,
        defaultThreads: this.defaultThreads,
        key,
        ...(profile !== undefined ? { profilePrefix: profile.prefix } : {}),
      }).then((prepared): SessionEntry => {
        if (prepared.fromCache) this.optimizedCacheHits++;
        return profile === undefined ? prepared : { ...prepared, profile };
      });
      this.sessions.set(key, pending);
      // A failed load must not poison the pool: the next attempt retries.
      pending.catch(() => this.sessions.delete(key));
    }
    const entry = await pending;
    return { result: { id: key, inputs: entry.inputs, outputs: entry.outputs } };
  }

  // ---- placement (profiling) -------------------------------------------------------------------

  /** Ends profiling of every session made so far and reports where each one's nodes ran. */
  private async placement(): Promise<SessionPlacement[]> {
    for (const pending of this.sessions.values()) {
      const entry = await pending.catch(() => undefined);
      if (entry !== undefined) await this.endProfile(entry);
    }
    for (const { dtype, session, profilePrefix } of await readbackSessionList()) {
      if (profilePrefix !== undefined)
        await this.endProfile({ session, profile: { prefix: profilePrefix, label: `readback:${dtype}` } });
    }
    return [...this.placements];
  }

  private readonly ended = new WeakSet<object>();

  private async endProfile(entry: Pick<SessionEntry, 'session' | 'profile'>): Promise<void> {
    if (entry.profile === undefined || this.ended.has(entry.session)) return;
    this.ended.add(entry.session);
    try {
      endProfiling(entry.session);
    } catch {
      return; // nothing to report
    }
    const { readPlacement } = await import('../backend/placement.js');
    this.placements.push(await readPlacement(entry.profile.prefix, entry.profile.label));
  }

  // ---- runs ------------------------------------------------------------------------------------

  private enqueueRun(
    rid: number,
    model: string,
    feeds: Readonly<Record<string, number>>,
    outputs: readonly RunOutputSlot[],
  ): void {
    const pending = this.sessions.get(model);
    if (pending === undefined) {
      this.fail(rid, { code: 'UNKNOWN_MODEL', message: `model '${model}' is not loaded in this store` });
      return;
    }
    const feedIds = Object.values(feeds);
    for (const id of feedIds) {
      const entry = this.tensors.get(id);
      if (entry === undefined || entry.released) {
        this.fail(rid, unknownTensor(id));
        return;
      }
    }
    this.enqueue(rid, feedIds, async (job) => {
      const { session } = await pending;
      const ortFeeds: Record<string, OrtTensor> = {};
      for (const [name, id] of Object.entries(feeds)) ortFeeds[name] = this.tensors.get(id)!.tensor;
      const started = performance.now();
      const produced = await runSession(
        session,
        ortFeeds,
        outputs.map((o) => o.name),
      );
      const ms = performance.now() - started;
      if (job.cancelled) {
        for (const t of Object.values(produced)) disposeTensor(t);
        throw new RunAbortedError('The run was aborted while it ran; its outputs were discarded.');
      }
      const result: Record<string, OutputInfo> = {};
      try {
        for (const { name, id } of outputs) {
          const t = produced[name];
          if (t === undefined) throw new TensorError('RUN_FAILED', `the model produced no output '${name}'`);
          result[name] = { id, ...describeTensor(t) };
        }
      } catch (err) {
        for (const t of Object.values(produced)) disposeTensor(t);
        throw err;
      }
      for (const { name, id } of outputs) this.tensors.set(id, { tensor: produced[name]!, pins: 0, released: false });
      return { result: { outputs: result, ms } };
    });
  }

  private cancel(target: number): void {
    const idx = this.queue.findIndex((j) => j.rid === target);
    if (idx >= 0) {
      const [job] = this.queue.splice(idx, 1);
      for (const id of job!.pinned) this.unpin(id);
      this.fail(target, serializeTensorError(new RunAbortedError('The run was aborted before it started.')));
      return;
    }
    if (this.running?.rid === target) this.running.cancelled = true;
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /**
   * Prepares the thread to be terminated. Terminating a worker thread while it is inside ONNX Runtime
   * (a session being created, run or released) aborts the whole process: when the native call returns,
   * onnxruntime-node's binding cannot hand its result to the dying JavaScript environment and throws a C++
   * `Napi::Error` that nothing catches ("terminate called after throwing an instance of 'Napi::Error'",
   * exit 134). So the worker drops its queued jobs (the store has already failed them), starts nothing
   * more, and answers once the job in flight, which cannot be interrupted, has returned.
   */
  private shutdown(rid: number): void {
    this.shutdownRid = rid;
    for (const job of this.queue.splice(0)) for (const id of job.pinned) this.unpin(id);
    this.answerShutdownOnceIdle();
  }

  private answerShutdownOnceIdle(): void {
    if (this.shutdownRid === undefined || this.shutdownAnswered) return;
    if (this.running !== undefined || this.readsInFlight > 0) return;
    this.shutdownAnswered = true;
    this.post({ rid: this.shutdownRid, ok: true, result: null });
  }

  // ---- queue -----------------------------------------------------------------------------------

  private enqueue(rid: number, pinned: readonly number[], exec: Job['exec']): void {
    if (this.shutdownRid !== undefined) {
      this.fail(rid, { code: 'STORE_CLOSED', message: 'The tensor store is closed.' });
      return;
    }
    for (const id of pinned) this.tensors.get(id)!.pins++;
    this.queue.push({ rid, pinned, cancelled: false, exec });
    this.schedulePump();
  }

  /**
   * Starts the next job on a later turn of the event loop, never synchronously: messages that
   * arrived together (a run and its cancel) are all handled before the next job starts.
   */
  private schedulePump(): void {
    if (this.pumpScheduled || this.running !== undefined) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running !== undefined) return;
    const job = this.queue.shift();
    if (job === undefined) return;
    this.running = job;
    try {
      const { result, transfer } = await job.exec(job);
      this.post({ rid: job.rid, ok: true, result }, transfer);
    } catch (err) {
      this.fail(job.rid, serializeTensorError(err));
    } finally {
      for (const id of job.pinned) this.unpin(id);
      this.running = undefined;
      this.answerShutdownOnceIdle();
      this.schedulePump();
    }
  }

  // ---- replies ---------------------------------------------------------------------------------

  private reply(rid: number, fn: () => { result: unknown }): void {
    try {
      this.post({ rid, ok: true, result: fn().result });
    } catch (err) {
      this.fail(rid, serializeTensorError(err));
    }
  }

  private fail(rid: number, error: SerializedError): void {
    this.post({ rid, ok: false, error });
  }
}

/** A model's name for placement reports: its file name, or its graph's name; `+` an appended graph's. */
async function sessionLabel(source: string | Uint8Array, options: ModelOptions): Promise<string> {
  const { decodeModel } = await import('../backend/append-graph.js');
  const graphName = (bytes: Uint8Array): string => {
    try {
      return decodeModel(bytes).graph?.name || 'graph';
    } catch {
      return 'graph';
    }
  };
  let label = typeof source === 'string' ? (source.split(/[\\/]/).at(-1) ?? source) : graphName(source);
  if (options.initializerOverrides !== undefined) label += ' (weights replaced)';
  if (options.appendGraph !== undefined) label += `+${graphName(options.appendGraph.bytes)}`;
  return label;
}

function unknownTensor(id: number): SerializedError {
  return {
    code: 'TENSOR_RELEASED',
    message: `tensor ${id} does not exist in the worker (released, or from another store)`,
  };
}
