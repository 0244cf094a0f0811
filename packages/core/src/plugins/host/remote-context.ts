/**
 * The `NodeContext` a node sees inside a plugin process: the same API as in the runtime, with every
 * tensor, op and file operation forwarded to the runtime, which owns the tensor store and the files.
 * Handles cross, tensor data does not (except `upload` and `read`, which copy by definition).
 */

import type { FileAccess } from '../../sdk/files.js';
import type { NodeContext, Preview } from '../../sdk/node.js';
import { dtypeOfData, uploadProblem } from '../../tensor/dtype.js';
import { TensorError } from '../../tensor/errors.js';
import type {
  DType,
  ModelHandle,
  ModelOptions,
  TensorData,
  TensorHandle,
  TensorStore,
  TensorStoreStats,
} from '../../tensor/types.js';
import { KinegraphError } from '../../util/errors.js';
import { type FilesInfo, type NoteOp, OP_NAMES, type RequestOp, type WireError } from '../protocol.js';

/** How a call's context reaches the runtime. */
export interface CallLink {
  /** Sends a request of this call; an abort of `signal` cancels it on both sides. */
  request(op: RequestOp, args: unknown[], signal?: AbortSignal): Promise<unknown>;
  /** Sends a one-way message of this call. */
  note(op: NoteOp, args: unknown[]): void;
  /** The store's counters as of the last answer. */
  stats(): TensorStoreStats;
  /** The ops' counters as of the last answer. */
  opsStats(): unknown;
  /** What was left of the run's memory budget at the last answer (undefined: none since the call began). */
  budgetAvailable(): number | undefined;
  /** Keeps a `files.writeOutput` callback until the runtime asks for it; returns its id. */
  registerCallback(write: (tmpPath: string) => Promise<void>): number;
  /** A new provisional (negative) tensor id, unique in the process. */
  provisionalId(): number;
  /** Op graphs and models loaded from bytes, remembered across calls (cleared when the store restarts). */
  readonly models: ModelMemo;
}

/** Models loaded from small byte arrays, by the array (its bytes compared on every hit). */
export interface ModelMemo {
  map: WeakMap<Uint8Array, { copy: Uint8Array; model: Promise<ModelHandle> }>;
}

/** The runtime's description of a `run` call. */
export interface RunInfo {
  readonly nodeId: string;
  readonly workflow: unknown;
  readonly previews: boolean;
  readonly device: string;
  readonly files: FilesInfo;
  readonly budget?: { readonly bytes: number; readonly available: number };
}

/** Rebuilds an error from the runtime so plugin code sees its class name, `code`, `hint` and `nodeId`. */
export function rehydrate(wire: WireError): Error {
  const error = wire.code
    ? new KinegraphError(wire.code, wire.message, {
        ...(wire.nodeId ? { nodeId: wire.nodeId } : {}),
        ...(wire.hint ? { hint: wire.hint } : {}),
      })
    : new Error(wire.message);
  // 'AbortError' in particular: generic cancellation handling matches on the name.
  error.name = wire.name;
  return error;
}

/** The context of a `run` call. */
export function remoteContext(info: RunInfo, link: CallLink, signal: AbortSignal): NodeContext {
  const tensors = new RemoteTensorStore(info.device as TensorStore['device'], link, signal);
  let lastFraction = -1;
  return {
    nodeId: info.nodeId,
    signal,
    tensors,
    ops: remoteOps(link) as unknown as NodeContext['ops'],
    files: remoteFiles(info.files, link),
    workflow: info.workflow,
    previews: info.previews,
    // The budget as the runtime last said: what was left when the call began, updated by each answer.
    ...(info.budget
      ? {
          budget: {
            bytes: info.budget.bytes,
            available: () => link.budgetAvailable() ?? info.budget!.available,
          },
        }
      : {}),
    progress(fraction: number, update?: { message?: string; preview?: Preview }) {
      // The runtime applies the same rules; dropping here saves the messages.
      const preview = info.previews ? update?.preview : undefined;
      if (!preview && !update?.message && Math.abs(fraction - lastFraction) < 0.001) return;
      lastFraction = fraction;
      link.note('progress', [
        fraction,
        {
          ...(update?.message !== undefined ? { message: String(update.message) } : {}),
          ...(preview ? { preview } : {}),
        },
      ]);
    },
    warn(code: string, message: string) {
      link.note('warn', [String(code), String(message)]);
    },
    throwIfCancelled() {
      signal.throwIfAborted();
    },
  };
}

/** `context.files` for a fingerprint call, or a run's. */
export function remoteFiles(info: FilesInfo, link: CallLink): FileAccess {
  const written: string[] = [];
  return {
    allowedFolders: [...info.allowedFolders],
    outputFolder: info.outputFolder,
    written,
    resolveRead: (path) => link.request('files.resolveRead', [path]) as Promise<string>,
    read: (path) => link.request('files.read', [path]) as Promise<Uint8Array>,
    async writeOutput(name, data) {
      const payload = typeof data === 'function' ? { callback: link.registerCallback(data) } : data;
      const path = (await link.request('files.writeOutput', [name, payload])) as string;
      written.push(path);
      return path;
    },
  };
}

/** `context.ops`: each op is one request, run by the runtime's own `TensorOps` on the shared store. */
function remoteOps(link: CallLink): Record<string, unknown> {
  const ops: Record<string, unknown> = { stats: () => link.opsStats() };
  for (const name of OP_NAMES) ops[name] = (...args: unknown[]) => link.request(`ops.${name}`, args);
  return ops;
}

/** In-memory models up to this size are remembered by their bytes object, as the runtime's store does. */
const MEMO_MAX_BYTES = 1 << 20;

/** `context.tensors`: handles only; the tensors stay in the runtime's inference worker. */
class RemoteTensorStore implements TensorStore {
  readonly #link: CallLink;
  readonly #signal: AbortSignal;

  constructor(
    readonly device: TensorStore['device'],
    link: CallLink,
    signal: AbortSignal,
  ) {
    this.#link = link;
    this.#signal = signal;
  }

  /**
   * Checked here, as the store would, and sent without waiting: the handle is known at once (its id is
   * provisional; the runtime maps it to the store's). A failure of the store itself (a crashed worker)
   * fails the next operation on the handle, or the node.
   */
  async upload(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle> {
    const dt = dtype ?? dtypeOfData(data);
    const problem = uploadProblem(data, dims, dt);
    if (problem !== null) throw new TensorError('INVALID_ARGUMENT', `upload: ${problem}`);
    const id = this.#link.provisionalId();
    this.#link.note('upload', [id, data, [...dims], dt]);
    return { kind: 'tensor', id, dims: Object.freeze([...dims]), dtype: dt, location: 'cpu' };
  }

  /** There is no zero-copy hand-over between processes: the same as {@link upload}. */
  uploadOwned(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle> {
    return this.upload(data, dims, dtype);
  }

  read(handle: TensorHandle): Promise<TensorData> {
    return this.#link.request('tensors.read', [handle.id]) as Promise<TensorData>;
  }

  retain(handle: TensorHandle): void {
    this.#link.note('retain', [handle.id]);
  }

  release(handle: TensorHandle): void {
    this.#link.note('release', [handle.id]);
  }

  loadModel(source: string | Uint8Array, options?: ModelOptions): Promise<ModelHandle> {
    const memo = source instanceof Uint8Array && source.byteLength <= MEMO_MAX_BYTES && options === undefined;
    const models = this.#link.models;
    if (memo) {
      const hit = models.map.get(source);
      if (hit && Buffer.from(hit.copy.buffer, hit.copy.byteOffset, hit.copy.byteLength).equals(source))
        return hit.model;
    }
    const model = this.#link.request('tensors.loadModel', [source, options ?? null]) as Promise<ModelHandle>;
    if (memo) {
      models.map.set(source, { copy: source.slice(), model });
      model.catch(() => models.map.delete(source));
    }
    return model;
  }

  run(
    model: ModelHandle,
    feeds: Readonly<Record<string, TensorHandle>>,
    outputNames?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Record<string, TensorHandle>> {
    const ids = Object.fromEntries(Object.entries(feeds).map(([name, handle]) => [name, handle?.id]));
    return this.#link.request('tensors.run', [model.id, ids, outputNames ?? null], signal ?? this.#signal) as Promise<
      Record<string, TensorHandle>
    >;
  }

  stats(): TensorStoreStats {
    return this.#link.stats();
  }
}
