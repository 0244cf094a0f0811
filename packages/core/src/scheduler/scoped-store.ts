import {
  type DType,
  EMPTY_STORE_STATS,
  type ModelHandle,
  type ModelOptions,
  type TensorData,
  type TensorHandle,
  type TensorStore,
  type TensorStoreStats,
} from '../tensor/types.js';
import { tensorBytes } from './tensor-walk.js';

/**
 * The TensorStore a node sees: the shared store, plus bookkeeping of every handle the node made, so that
 * whatever the node neither returned nor released is freed when it finishes, fails or is cancelled.
 * Intermediate tensors of a sampling loop therefore cannot leak, whatever the node author forgets.
 *
 * It also keeps the node's high-water mark ({@link peakBytes}): what its own memory declaration is held to.
 */
export class ScopedTensorStore implements TensorStore {
  // Handle id → handle and the number of references this node holds on it.
  readonly #owned = new Map<number, { handle: TensorHandle; count: number }>();
  // Handles this node made (not inputs it retained) while it holds them: id → bytes.
  readonly #made = new Map<number, number>();
  #madeBytes = 0;
  #peakBytes = 0;

  #inner: TensorStore | undefined;

  /**
   * @param start Starts (or returns) the shared store. Called on the node's first tensor operation only,
   *   so graphs of plain values never start an inference worker.
   * @param deviceHint The device reported before the store has started.
   * @param peek The shared store if it has started already (a node passing an input through never calls
   *   an async method, yet its handles need the store).
   */
  constructor(
    private readonly start: () => Promise<TensorStore>,
    private readonly signal: AbortSignal,
    private readonly deviceHint: TensorStore['device'] = 'cpu',
    private readonly peek: () => TensorStore | undefined = () => undefined,
  ) {}

  get device(): TensorStore['device'] {
    return this.#inner?.device ?? this.deviceHint;
  }

  // Sync methods take handles, and a handle exists only once the store has started.
  private get inner(): TensorStore {
    this.#inner ??= this.peek();
    if (!this.#inner) throw new Error('No tensor exists yet in this node: the tensor store has not started.');
    return this.#inner;
  }

  async #started(): Promise<TensorStore> {
    this.#inner ??= await this.start();
    return this.#inner;
  }

  async upload(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle> {
    return this.#counted(this.#own(await (await this.#started()).upload(data, dims, dtype)));
  }

  /** Zero-copy upload when the shared store supports it (the worker-backed one does); else a copy. */
  async uploadOwned(data: TensorData, dims: readonly number[], dtype?: DType): Promise<TensorHandle> {
    const inner = (await this.#started()) as TensorStore & { uploadOwned?: TensorStore['upload'] };
    return this.#counted(
      this.#own(await (inner.uploadOwned ? inner.uploadOwned(data, dims, dtype) : inner.upload(data, dims, dtype))),
    );
  }

  async read(handle: TensorHandle): Promise<TensorData> {
    const data = await (await this.#started()).read(handle);
    // The data now in JS counts on top of the tensors the node holds, at the moment it arrives.
    this.#peakBytes = Math.max(this.#peakBytes, this.#madeBytes + data.byteLength);
    return data;
  }

  retain(handle: TensorHandle): void {
    this.inner.retain(handle);
    this.#own(handle);
  }

  release(handle: TensorHandle): void {
    const entry = this.#owned.get(handle.id);
    // Releasing a handle the node never held (an input it borrowed) would free the scheduler's reference
    // under a consumer that still needs it: ignore it rather than corrupt the run.
    if (!entry) return;
    if (--entry.count === 0) this.#drop(handle.id);
    this.inner.release(handle);
  }

  async loadModel(source: string | Uint8Array, options?: ModelOptions): Promise<ModelHandle> {
    return (await this.#started()).loadModel(source, options);
  }

  async run(
    model: ModelHandle,
    feeds: Readonly<Record<string, TensorHandle>>,
    outputNames?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Record<string, TensorHandle>> {
    const outputs = await (await this.#started()).run(model, feeds, outputNames, signal ?? this.signal);
    for (const handle of Object.values(outputs)) this.#counted(this.#own(handle));
    return outputs;
  }

  stats(): TensorStoreStats {
    return this.#inner?.stats() ?? EMPTY_STORE_STATS;
  }

  /**
   * The most this node held at once of the tensors it made (uploads, model and op-graph outputs), plus the
   * data of a tensor it read into JS, at the moment it arrived. Inputs it borrowed do not count.
   */
  get peakBytes(): number {
    return this.#peakBytes;
  }

  /** References this node holds, for tests. */
  get heldCount(): number {
    let n = 0;
    for (const entry of this.#owned.values()) n += entry.count;
    return n;
  }

  /**
   * Hands one reference on each of the given handles to the caller (the scheduler) and frees every other
   * reference the node holds. Handles the node did not make (inputs passed through) are retained, so the
   * caller always ends with exactly one reference per kept handle.
   */
  finish(keep: Iterable<TensorHandle>): void {
    for (const handle of keep) {
      const entry = this.#owned.get(handle.id);
      if (!entry) this.inner.retain(handle);
      else if (--entry.count === 0) this.#drop(handle.id);
    }
    this.discard();
  }

  /**
   * Frees every reference the node still holds (after a failure or cancellation) and closes the scope:
   * a node that ignored cancellation and goes on making tensors has them freed as they arrive.
   */
  discard(): void {
    for (const { handle, count } of this.#owned.values()) for (let i = 0; i < count; i++) this.#inner?.release(handle);
    this.#owned.clear();
    this.#made.clear();
    this.#madeBytes = 0;
    this.#closed = true;
  }

  #closed = false;

  #own(handle: TensorHandle): TensorHandle {
    if (this.#closed) {
      this.inner.release(handle);
      return handle;
    }
    const entry = this.#owned.get(handle.id);
    if (entry) entry.count++;
    else this.#owned.set(handle.id, { handle, count: 1 });
    return handle;
  }

  // Counts a handle the node just made (and still holds) towards its high-water mark.
  #counted(handle: TensorHandle): TensorHandle {
    if (this.#closed || this.#made.has(handle.id)) return handle;
    const bytes = tensorBytes(handle);
    this.#made.set(handle.id, bytes);
    this.#madeBytes += bytes;
    this.#peakBytes = Math.max(this.#peakBytes, this.#madeBytes);
    return handle;
  }

  // The node let go of its last reference on a handle.
  #drop(id: number): void {
    this.#owned.delete(id);
    const bytes = this.#made.get(id);
    if (bytes === undefined) return;
    this.#made.delete(id);
    this.#madeBytes -= bytes;
  }
}
