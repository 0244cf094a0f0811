import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KinegraphError } from '../util/errors.js';

/**
 * The program plugin processes run (`dist/plugin-host.js`, a tsup entry of its own). From the built
 * package it sits next to the code that starts it; when this module runs from its TypeScript sources
 * (vitest), it is the package's `dist/` build. Throws `PLUGIN_HOST_NOT_FOUND` when it has not been built.
 */
export function pluginHostScript(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../dist/plugin-host.js', here) // src/plugins/host-script.ts → packages/core/dist
    : new URL('./plugin-host.js', here); // dist/<chunk>.js → dist/plugin-host.js
  const path = fileURLToPath(url);
  if (!existsSync(path))
    throw new KinegraphError('PLUGIN_HOST_NOT_FOUND', `The plugin host ${path} does not exist.`, {
      hint: 'Build core first: npm run build -w @kinegraph/core.',
    });
  return path;
}
