import { randomUUID } from 'node:crypto';
import type { FileAccess } from '../sdk/files.js';
import type { TensorHandle, TensorStore } from '../tensor/types.js';
import { contentHash } from '../util/hash.js';
import type { PreparedNode } from '../validate/validate.js';
import { collectTensors, tensorBytes } from './tensor-walk.js';

/** Whether a node's outputs may be reused from the cache (its definition says `cache: false` when not). */
export function isCacheable(node: PreparedNode): boolean {
  return node.registered.definition.cache !== false;
}

/**
 * The key a node's outputs are cached under: its type and version, its params, the keys of the outputs it
 * reads (`inputKeys`, so a change upstream changes every key downstream) and its fingerprint (e.g. the size
 * and mtime of a file it loads, so an edited file is read again). A node that may not be cached gets a key
 * of its own every time.
 */
export async function cacheKey(
  node: PreparedNode,
  inputKeys: Readonly<Record<string, string>>,
  files: FileAccess,
): Promise<string> {
  const definition = node.registered.definition;
  const fingerprint = definition.fingerprint ? await definition.fingerprint(node.params as never, { files }) : '';
  return contentHash({
    type: definition.type,
    version: definition.version,
    params: node.params,
    inputs: inputKeys,
    fingerprint,
    nonce: isCacheable(node) ? undefined : randomUUID(),
  });
}

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
