/** A bare tensor store for tests of graphs and tensor helpers outside a workflow. */
import type { ManagedTensorStore, TensorStoreOptions } from '../worker/client.js';
import { createTensorStore } from '../worker/client.js';

/**
 * Starts an inference worker on the CPU with one ORT thread (unless `options` say otherwise), for tests
 * that run graphs directly: `await defineGraph(...).run({ tensors: store }, feeds)`. Close it when done.
 */
export function createTestStore(options: TensorStoreOptions = {}): Promise<ManagedTensorStore> {
  return createTensorStore({ threads: 1, ...options });
}
