/**
 * Helpers shared by the tensor layer's tests (not part of the public API).
 * The store's tests need the built worker: they fail with a clear message when it is missing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ManagedTensorStore, TensorStoreOptions } from '../worker/client.js';
import { createTensorStore } from '../worker/client.js';

const WORKER = fileURLToPath(new URL('../../dist/inference-worker.js', import.meta.url));

/** Creates a store, first checking that `dist/inference-worker.js` exists. */
export async function openStore(options: TensorStoreOptions = {}): Promise<ManagedTensorStore> {
  if (!existsSync(WORKER)) {
    throw new Error(`${WORKER} is missing: run \`npm run build -w @kinegraph/core\` before the tests.`);
  }
  return createTensorStore({ threads: 1, ...options });
}

/** Asserts two float arrays agree within `tol`, reporting the first mismatch. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) {
      throw new Error(`element ${i}: ${actual[i]} ≠ expected ${expected[i]} (tolerance ${tol})`);
    }
  }
}
