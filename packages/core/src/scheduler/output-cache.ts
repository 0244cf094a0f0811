import type { TensorHandle, TensorStore } from '../tensor/types.js';
import { collectTensors, tensorBytes } from './tensor-walk.js';

/** Bytes charged for an entry beyond its tensors, so entries of plain values still count. */
const ENTRY_OVERHEAD_BYTES = 1024;

interface Entry {
  readonly outputs: Record<string, unknown>;
  readonly tensors: TensorHandle[];
  readonly bytes: number;
}

/**
 * Node outputs by content hash, for incremental re-runs. Holds one reference on every tensor it keeps;
 * evicts least recently used entries when over its memory budget, releasing their tensors.
 */
export class OutputCache {
  readonly #entries = new Map<string, Entry>(); // Map order is the LRU order: oldest first.
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(
    private readonly store: () => TensorStore | undefined,
    /** Memory budget in bytes; 0 disables caching. */
    readonly budgetBytes: number,
  ) {}

  /** The outputs cached under `key`, marking them most recently used. */
  get(key: string): Record<string, unknown> | undefined {
    const entry = this.#entries.get(key);
    if (!entry) {
      this.#misses++;
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.outputs;
  }

  /** Caches outputs (retaining their tensors), unless they alone exceed the budget. */
  set(key: string, outputs: Record<string, unknown>): void {
    const store = this.store();
    const tensors = [...collectTensors(outputs).values()];
    const bytes = ENTRY_OVERHEAD_BYTES + tensors.reduce((sum, t) => sum + tensorBytes(t), 0);
    if (bytes > this.budgetBytes || (tensors.length && !store)) return;
    this.delete(key);
    for (const tensor of tensors) store!.retain(tensor);
    this.#entries.set(key, { outputs, tensors, bytes });
    this.#bytes += bytes;
    while (this.#bytes > this.budgetBytes) {
      const oldest = this.#entries.keys().next().value as string;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    const store = this.store();
    for (const tensor of entry.tensors) store?.release(tensor);
  }

  /** Drops everything, releasing all tensors. */
  clear(): void {
    for (const key of [...this.#entries.keys()]) this.delete(key);
  }

  stats(): { entries: number; bytes: number; budgetBytes: number; hits: number; misses: number } {
    return {
      entries: this.#entries.size,
      bytes: this.#bytes,
      budgetBytes: this.budgetBytes,
      hits: this.#hits,
      misses: this.#misses,
    };
  }
}
