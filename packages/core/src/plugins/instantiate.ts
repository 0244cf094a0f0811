import { pathToFileURL } from 'node:url';
import type { KinegraphPlugin } from '../sdk/plugin.js';

/**
 * Imports a plugin's entry file and returns its plugin: the default export (or a named `plugin` export),
 * called first when it is a factory. The one place this is done, so a package loads the same in the
 * runtime's own process (trusted plugins) and in an isolated plugin process (`host/load-plugin.ts`).
 * Throws when the file exports no plugin object.
 */
export async function instantiatePlugin(file: string): Promise<KinegraphPlugin> {
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown; plugin?: unknown };
  const exported = module.default ?? module.plugin;
  const plugin =
    typeof exported === 'function' ? await (exported as (options: undefined) => unknown)(undefined) : exported;
  if (!plugin || typeof plugin !== 'object')
    throw new Error(`${file} has no default export of a plugin or plugin factory`);
  return plugin as KinegraphPlugin;
}
