/**
 * Serves one call of an isolated plugin in the runtime: the requests its node makes through its context
 * (tensors, ops, files) and its one-way notes (progress, warnings, retains, releases), against the real
 * context the scheduler gave the node.
 *
 * The plugin may name only what it was given or made: tensor handles among its inputs or returned to it
 * during this call, models among its inputs or loaded by its plugin, model files inside what it may read.
 * Anything else (a guessed tensor id of another node, a model path in your home folder) is refused with
 * `PLUGIN_PERMISSION_DENIED`; arguments are checked and rebuilt before they reach the store.
 */

import { realpathSync } from 'node:fs';
import type { FileAccess } from '../sdk/files.js';
import type { NodeContext } from '../sdk/node.js';
import type { ModelHandle, TensorHandle } from '../tensor/types.js';
import { KinegraphError } from '../util/errors.js';
import { asDims, asDType, asModelOptions, isTensorData } from './broker-args.js';
import { isInside } from './folders.js';
import type { CallHandler } from './plugin-process.js';
import { type NoteOp, OP_NAMES, type OpName, type RequestOp } from './protocol.js';

/** Previews travel with every event to every client: larger ones from a plugin are dropped. */
const MAX_PREVIEW_BYTES = 8 * 1024 ** 2;

/** What a broker serves: one node's call. */
export interface BrokerScope {
  readonly plugin: string;
  /** The node's id ('' while fingerprinting, where the scheduler does not say it). */
  readonly nodeId: string;
  readonly type: string;
  /** The scheduler's context of a `run` call; undefined for `fingerprint`, which has files only. */
  readonly context: NodeContext | undefined;
  readonly files: FileAccess;
  /** The node's inputs: the tensors and models it may use. */
  readonly inputs: unknown;
  /** Whether the plugin may read a path (its real path, symlinks resolved). */
  mayRead(realPath: string): boolean;
  /** Whether the run's output folder is one a plugin may write (not your home folder or above). */
  readonly mayWriteOutput: boolean;
  /** Models the plugin loaded, by id, kept across its calls (it may reuse a handle it remembered). */
  readonly models: Map<string, ModelHandle>;
  /** Runs a `files.writeOutput` callback of the plugin on a temporary path. */
  write(callback: number, tmpPath: string): Promise<void>;
}

/** The {@link CallHandler} of one call. */
export class CallBroker implements CallHandler {
  readonly #scope: BrokerScope;
  readonly #tensors = new Map<number, TensorHandle>();
  /** Uploads the plugin sent without waiting, by their provisional (negative) ids. */
  readonly #provisional = new Map<number, Promise<TensorHandle>>();
  /** Work started by notes (uploads, retains and releases of uploads): the call is over when it settles. */
  readonly #pending = new Set<Promise<unknown>>();
  readonly #models = new Map<string, ModelHandle>();
  readonly #modelFolders: string[] = [];
  #closed = false;
  deferredError: unknown;

  constructor(scope: BrokerScope) {
    this.#scope = scope;
    walk(scope.inputs, (value) => {
      if (isHandle(value)) this.#tensors.set(value.id, value);
      else if (isModelHandle(value)) this.#models.set(value.id, value);
      else if (isModelValue(value)) {
        // A model pack as input: the node may load the pack's own files (a custom sampler would).
        const real = realOrUndefined(value.dir);
        if (real) this.#modelFolders.push(real);
      }
    });
  }

  close(): void {
    this.#closed = true;
  }

  /**
   * Waits for what the call's notes started (uploads, retains, releases) and throws the first error one of
   * them met: a node is done only when its tensors are where the store says.
   */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
    if (this.deferredError !== undefined) throw this.deferredError;
  }

  /** The plugin's outputs with every tensor handle checked and replaced by the runtime's own copy. */
  async adoptOutputs(value: unknown): Promise<unknown> {
    await this.settle();
    return this.#adopt(value, 0);
  }

  #adopt(value: unknown, depth: number): unknown {
    if (depth > 32) throw this.#denied('returned outputs nested more than 32 levels deep');
    if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
    if (isHandleLike(value)) return this.#settledTensor((value as { id: unknown }).id);
    if (Array.isArray(value)) return value.map((item) => this.#adopt(item, depth + 1));
    // fromEntries defines keys (a `__proto__` key stays a key): no prototype games with plugin data.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#adopt(v, depth + 1)]));
  }

  async request(op: RequestOp, args: unknown[], signal: AbortSignal): Promise<{ value: unknown; extra?: object }> {
    if (this.#closed) throw this.#finished(op);
    const value = await this.#request(op, args, signal);
    const context = this.#scope.context;
    return {
      value,
      ...(context && (op.startsWith('tensors.') || op.startsWith('ops.'))
        ? {
            extra: {
              stats: context.tensors.stats(),
              opsStats: context.ops.stats(),
              ...(context.budget ? { budgetAvailable: context.budget.available() } : {}),
            },
          }
        : {}),
    };
  }

  async #request(op: RequestOp, args: unknown[], signal: AbortSignal): Promise<unknown> {
    const { files } = this.#scope;
    switch (op) {
      case 'files.resolveRead':
        return this.#resolveRead(args[0]);
      case 'files.read':
        return files.read(await this.#resolveRead(args[0]));
      case 'files.writeOutput': {
        const [name, data] = args;
        if (typeof name !== 'string') throw this.#invalid(op, 'the name is not a string');
        if (!this.#scope.mayWriteOutput)
          throw this.#denied(
            `permission to write ${name} into ${files.outputFolder}`,
            'Isolated plugins never write into your home folder itself or a folder above it: choose an output folder of its own (--out).',
          );
        if (data instanceof Uint8Array) return files.writeOutput(name, data);
        const callback = (data as { callback?: unknown } | null)?.callback;
        if (!Number.isSafeInteger(callback)) throw this.#invalid(op, 'data is neither bytes nor a callback');
        return files.writeOutput(name, (tmpPath) => this.#scope.write(callback as number, tmpPath));
      }
    }
    const context = this.#scope.context;
    if (!context) throw this.#invalid(op, 'only files are available while fingerprinting');
    const { tensors } = context;
    switch (op) {
      case 'tensors.read':
        return tensors.read(await this.#tensor(args[0]));
      case 'tensors.loadModel': {
        const [source, options] = args;
        if (typeof source === 'string') this.#checkModelPath(source);
        else if (!(source instanceof Uint8Array)) throw this.#invalid(op, 'the source is neither a path nor bytes');
        const model = await tensors.loadModel(source, asModelOptions(options, op, this));
        this.#scope.models.set(model.id, model);
        return model;
      }
      case 'tensors.run': {
        const [modelId, feedIds, outputNames] = args;
        const model = this.#model(modelId);
        if (typeof feedIds !== 'object' || feedIds === null) throw this.#invalid(op, 'feeds are not an object');
        const feeds = Object.fromEntries(
          await Promise.all(Object.entries(feedIds).map(async ([name, id]) => [name, await this.#tensor(id)] as const)),
        );
        if (outputNames !== null && !(Array.isArray(outputNames) && outputNames.every((n) => typeof n === 'string')))
          throw this.#invalid(op, 'output names are not a list of names');
        const outputs = await tensors.run(
          model,
          feeds,
          (outputNames as string[] | null) ?? undefined,
          AbortSignal.any([context.signal, signal]),
        );
        for (const handle of Object.values(outputs)) this.#own(handle);
        return outputs;
      }
    }
    const name = op.slice('ops.'.length) as OpName;
    if (!(OP_NAMES as readonly string[]).includes(name)) throw this.#invalid(op, 'no such op');
    const opArgs = await Promise.all(args.map((arg) => this.#opArg(arg, 0)));
    const result = (await (context.ops as unknown as Record<OpName, (...a: unknown[]) => Promise<unknown>>)[name](
      ...opArgs,
    )) as TensorHandle | TensorHandle[];
    if (Array.isArray(result)) for (const handle of result) this.#own(handle);
    else this.#own(result);
    return result;
  }

  note(op: NoteOp, args: unknown[]): void {
    if (this.#closed) return;
    const context = this.#scope.context;
    if (!context) return;
    try {
      switch (op) {
        case 'progress': {
          const [fraction, update] = args;
          if (typeof fraction !== 'number') return;
          const u = (typeof update === 'object' && update !== null ? update : {}) as Record<string, unknown>;
          const p = u.preview as Record<string, unknown> | undefined;
          const preview =
            p &&
            typeof p.mime === 'string' &&
            p.data instanceof Uint8Array &&
            p.data.byteLength <= MAX_PREVIEW_BYTES &&
            typeof p.width === 'number' &&
            typeof p.height === 'number'
              ? { mime: p.mime, data: p.data, width: p.width, height: p.height }
              : undefined;
          context.progress(fraction, {
            ...(typeof u.message === 'string' ? { message: u.message.slice(0, 2000) } : {}),
            ...(preview ? { preview } : {}),
          });
          return;
        }
        case 'warn':
          context.warn(String(args[0]).slice(0, 100), String(args[1]).slice(0, 4000));
          return;
        case 'upload': {
          const [id, data, dims, dtype] = args;
          if (!Number.isSafeInteger(id) || (id as number) >= 0 || this.#provisional.has(id as number))
            throw this.#invalid('upload', 'the provisional id is not a new negative integer');
          if (!isTensorData(data)) throw this.#invalid('upload', 'data is not a typed array');
          const upload = context.tensors
            .upload(data, asDims(dims, 'upload', this), asDType(dtype, 'upload', this))
            .then((handle) => {
              this.#own(handle);
              this.#tensors.set(id as number, handle);
              return handle;
            });
          this.#provisional.set(id as number, upload);
          this.#track(upload);
          return;
        }
        case 'retain':
          this.#withTensor(args[0], (handle) => context.tensors.retain(handle));
          return;
        case 'release':
          this.#withTensor(args[0], (handle) => context.tensors.release(handle));
          return;
      }
    } catch (error) {
      // retain and release are synchronous in the plugin and answer nothing: the call fails with it.
      this.deferredError ??= error;
    }
  }

  async #resolveRead(path: unknown): Promise<string> {
    if (typeof path !== 'string') throw this.#invalid('files.resolveRead', 'the path is not a string');
    const real = await this.#scope.files.resolveRead(path);
    if (!this.#scope.mayRead(real)) throw this.#denied(`permission to read ${real}`, readHint(real));
    return real;
  }

  #checkModelPath(path: string): void {
    const real = realOrUndefined(path);
    if (real === undefined) return; // the store reports the missing file with its own code
    if (this.#scope.mayRead(real) || this.#modelFolders.some((folder) => isInside(real, folder))) return;
    throw this.#denied(`permission to load the model ${real}`, readHint(real));
  }

  /** Runs `use` on a tensor now, or once its upload has landed; errors fail the call. */
  #withTensor(id: unknown, use: (handle: TensorHandle) => void): void {
    const pending = typeof id === 'number' && !this.#tensors.has(id) ? this.#provisional.get(id) : undefined;
    if (pending) this.#track(pending.then(use));
    else use(this.#settledTensor(id));
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => {
      this.deferredError ??= error;
    });
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  /** A tensor the node may use, once its upload (if it is one of the node's own) has landed. */
  #tensor(id: unknown): Promise<TensorHandle> | TensorHandle {
    const pending = typeof id === 'number' && !this.#tensors.has(id) ? this.#provisional.get(id) : undefined;
    return pending ?? this.#settledTensor(id);
  }

  #settledTensor(id: unknown): TensorHandle {
    const handle = typeof id === 'number' ? this.#tensors.get(id) : undefined;
    if (!handle)
      throw this.#denied(
        `use of tensor ${JSON.stringify(id)}, which is neither an input of the node nor made by it`,
        'A node may use only the tensors it was given or made. Report it to the plugin\u2019s authors.',
      );
    return handle;
  }

  #model(id: unknown): ModelHandle {
    const model = typeof id === 'string' ? (this.#models.get(id) ?? this.#scope.models.get(id)) : undefined;
    if (!model)
      throw this.#denied(
        `use of model ${JSON.stringify(id)}, which it neither loaded nor was given`,
        'A node may run only the models it loaded or was given. Report it to the plugin\u2019s authors.',
      );
    return model;
  }

  #own(handle: TensorHandle): TensorHandle {
    this.#tensors.set(handle.id, handle);
    return handle;
  }

  async #opArg(arg: unknown, depth: number): Promise<unknown> {
    if (isHandleLike(arg)) return this.#tensor((arg as { id: unknown }).id);
    if (Array.isArray(arg) && depth < 2) return Promise.all(arg.map((item) => this.#opArg(item, depth + 1)));
    if (typeof arg === 'number' || typeof arg === 'string' || arg === undefined || arg === null)
      return arg ?? undefined;
    throw this.#invalid('ops', 'an argument is neither a tensor, a number, a string nor a list of them');
  }

  #denied(what: string, hint = 'Report it to the plugin\u2019s authors.'): KinegraphError {
    const { plugin, nodeId, type } = this.#scope;
    const where = nodeId ? `node "${nodeId}" (${type})` : type;
    return new KinegraphError('PLUGIN_PERMISSION_DENIED', `Plugin "${plugin}" was denied ${what} in ${where}.`, {
      ...(nodeId ? { nodeId } : {}),
      hint,
    });
  }

  #invalid(op: string, why: string): KinegraphError {
    const { plugin, nodeId } = this.#scope;
    return new KinegraphError('PLUGIN_PROTOCOL_ERROR', `Plugin "${plugin}" sent an invalid ${op} request: ${why}.`, {
      ...(nodeId ? { nodeId } : {}),
      hint: 'Report it to the plugin\u2019s authors.',
    });
  }

  #finished(op: string): KinegraphError {
    const { nodeId, type } = this.#scope;
    return new KinegraphError(
      'NODE_FINISHED',
      `${nodeId ? `Node "${nodeId}"` : type} asked for ${op} after it had finished.`,
      {
        ...(nodeId ? { nodeId } : {}),
        hint: 'Everything a node does must happen before its run returns.',
      },
    );
  }

  /** For argument checks outside the class. */
  invalid(op: string, why: string): KinegraphError {
    return this.#invalid(op, why);
  }
}

function readHint(path: string): string {
  return `Isolated plugins read their own package, the run's allowed folders (never your home folder itself or a folder above it) and folders granted in kinegraph.grants.json ("read"). Copy ${path} into an allowed folder, or allow its folder with --allow <dir>.`;
}

function isHandleLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tensor';
}

function isHandle(value: unknown): value is TensorHandle {
  return isHandleLike(value) && typeof (value as { id?: unknown }).id === 'number';
}

function isModelHandle(value: unknown): value is ModelHandle {
  const v = value as { kind?: unknown; id?: unknown; inputNames?: unknown } | null;
  return (
    typeof v === 'object' && v !== null && v.kind === 'model' && typeof v.id === 'string' && Array.isArray(v.inputNames)
  );
}

function isModelValue(value: unknown): value is { kind: 'model'; dir: string } {
  const v = value as { kind?: unknown; dir?: unknown } | null;
  return typeof v === 'object' && v !== null && v.kind === 'model' && typeof v.dir === 'string';
}

/** Calls `visit` on every object inside a value (depth-limited). */
function walk(value: unknown, visit: (value: object) => void, depth = 0): void {
  if (depth > 16 || typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return;
  visit(value);
  for (const item of Array.isArray(value) ? value : Object.values(value)) walk(item, visit, depth + 1);
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
