import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KinegraphError } from '../util/errors.js';

/**
 * The program plugin processes run (`dist/plugin-host.js`, a tsup entry of its own). Throws
 * `PLUGIN_HOST_NOT_FOUND` when it has not been built.
 */
export function pluginHostScript(): string {
  return builtScript('plugin-host.js');
}

/** The worker thread that gives the runtime synchronous calls into plugin processes (`sync-bridge.ts`). */
export function syncWorkerScript(): string {
  return builtScript('plugin-sync-worker.js');
}

// From the built package a script sits next to the code that starts it; when this module runs from its
// TypeScript sources (vitest), it is the package's `dist/` build.
function builtScript(name: string): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL(`../../dist/${name}`, here) // src/plugins/host-script.ts → packages/core/dist
    : new URL(`./${name}`, here); // dist/<chunk>.js → dist/<name>
  const path = fileURLToPath(url);
  if (!existsSync(path))
    throw new KinegraphError('PLUGIN_HOST_NOT_FOUND', `${path} does not exist.`, {
      hint: 'Build core first: npm run build -w @kinegraph/core.',
    });
  return path;
}
