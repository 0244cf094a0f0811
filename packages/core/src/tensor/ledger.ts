/**
 * Reference counts and byte accounting of the handles a store has handed out. Main-thread only and
 * synchronous, so `retain`/`release` can be synchronous and `stats()` exact the moment they return.
 */
import { TensorError } from './errors.js';

/** Outcome of {@link HandleLedger.release}. */
export type ReleaseOutcome = 'freed' | 'still-referenced' | 'unknown';

/** Live handles by id, with their reference counts and sizes. */
export class HandleLedger {
  readonly #live = new Map<number, { refs: number; readonly bytes: number; readonly gpu: boolean }>();
  #liveBytes = 0;
  #peakBytes = 0;
  #liveGpuBytes = 0;
  #peakGpuBytes = 0;
  #doubleReleases = 0;

  /** Records a new handle holding one reference; `gpu` when its data lives in GPU memory. */
  register(id: number, bytes: number, gpu = false): void {
    this.#live.set(id, { refs: 1, bytes, gpu });
    this.#liveBytes += bytes;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
    if (gpu) {
      this.#liveGpuBytes += bytes;
      if (this.#liveGpuBytes > this.#peakGpuBytes) this.#peakGpuBytes = this.#liveGpuBytes;
    }
  }

  /** Whether `id` is a live handle of this store. */
  has(id: number): boolean {
    return this.#live.has(id);
  }

  /** Adds a reference; a freed or unknown id is a caller bug and throws `TENSOR_RELEASED`. */
  retain(id: number): void {
    const entry = this.#live.get(id);
    if (entry === undefined)
      throw new TensorError('TENSOR_RELEASED', `retain: tensor ${id} was released or belongs to another store`);
    entry.refs++;
  }

  /** Drops a reference. `'freed'` means the last one went and the worker must free the tensor. */
  release(id: number): ReleaseOutcome {
    const entry = this.#live.get(id);
    if (entry === undefined) {
      this.#doubleReleases++;
      return 'unknown';
    }
    if (--entry.refs > 0) return 'still-referenced';
    this.#live.delete(id);
    this.#liveBytes -= entry.bytes;
    if (entry.gpu) this.#liveGpuBytes -= entry.bytes;
    return 'freed';
  }

  /** Forgets every handle (the worker and its tensors are gone). */
  clear(): void {
    this.#live.clear();
    this.#liveBytes = 0;
    this.#liveGpuBytes = 0;
  }

  /** Restarts the high-water mark at the current live bytes. */
  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
    this.#peakGpuBytes = this.#liveGpuBytes;
  }

  /** Live handles (each counted once, whatever its reference count). */
  get liveTensors(): number {
    return this.#live.size;
  }
  /** Bytes of all live handles. */
  get liveBytes(): number {
    return this.#liveBytes;
  }
  /** Highest `liveBytes` since creation or the last {@link resetPeak}. */
  get peakBytes(): number {
    return this.#peakBytes;
  }
  /** Bytes of the live handles whose data is in GPU memory (a subset of {@link liveBytes}). */
  get liveGpuBytes(): number {
    return this.#liveGpuBytes;
  }
  /** Highest `liveGpuBytes` since creation or the last {@link resetPeak}. */
  get peakGpuBytes(): number {
    return this.#peakGpuBytes;
  }
  /** Releases of ids that were not live. */
  get doubleReleases(): number {
    return this.#doubleReleases;
  }
}
