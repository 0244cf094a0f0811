/**
 * Finds the inference worker's script.
 *
 * From the built package, the worker sits next to the code that starts it (`dist/inference-worker.js`,
 * a tsup entry of its own). When this module runs from its TypeScript sources (vitest imports
 * `src/**.ts`), there is no compiled worker beside it and Node cannot start a `.ts` worker, so it falls
 * back to the package's `dist/` build.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TensorError } from '../tensor/errors.js';

/**
 * Resolves the worker script URL, or throws `WORKER_NOT_FOUND` saying how to build it. `override`
 * (a file URL, or a path resolved against the current directory) replaces the automatic choice.
 */
export function resolveWorkerUrl(override?: URL | string): URL {
  const candidate = override === undefined ? defaultWorkerUrl() : toFileUrl(override);
  if (!existsSync(fileURLToPath(candidate))) {
    throw new TensorError(
      'WORKER_NOT_FOUND',
      `The inference worker script ${fileURLToPath(candidate)} does not exist. Run \`npm run build -w @kinegraph/core\` first.`,
      { path: fileURLToPath(candidate) },
    );
  }
  return candidate;
}

function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/inference-worker.js', here) // src/tensor/worker-url.ts → packages/core/dist
    : new URL('./inference-worker.js', here); // dist/<chunk>.js → dist/inference-worker.js
}

function toFileUrl(location: URL | string): URL {
  if (typeof location !== 'string') return location;
  return location.startsWith('file:') ? new URL(location) : pathToFileURL(resolve(location));
}
