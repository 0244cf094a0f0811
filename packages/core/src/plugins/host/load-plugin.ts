/** Loads a plugin package in its plugin process and describes it to the runtime (data, no functions). */

import { resolve } from 'node:path';
import type { AnyNodeDefinition } from '../../sdk/node.js';
import type { KinegraphPlugin } from '../../sdk/plugin.js';
import { instantiatePlugin } from '../instantiate.js';
import type { LoadResultWire, NodeDescriptionWire, PluginDescriptionWire } from '../protocol.js';
import { toWireError } from '../protocol.js';
import { type DenialScope, denialError } from './denials.js';
import { changedGlobals, type GlobalsSnapshot, snapshotGlobals } from './globals-guard.js';

/** What a plugin process knows of its plugin. */
export interface HostState {
  pluginName: string;
  networkBlocked: boolean;
  nodes: Map<string, AnyNodeDefinition>;
  snapshot: GlobalsSnapshot | undefined;
}

/** Loads the package's entry files; returns their plugins (or why each failed) and the node definitions. */
export async function loadEntries(
  state: HostState,
  dir: string,
  entries: readonly string[],
): Promise<{ result: LoadResultWire; tampered: string[] }> {
  state.snapshot = snapshotGlobals();
  const results: Array<LoadResultWire['entries'][number]> = [];
  for (const entry of entries) {
    try {
      const plugin = await instantiatePlugin(resolve(dir, entry));
      for (const node of plugin.nodes ?? []) if (node) state.nodes.set(node.type, node);
      results.push({ entry, plugin: describePlugin(plugin) });
    } catch (error) {
      const scope: DenialScope = { plugin: state.pluginName, doing: 'loading', networkBlocked: state.networkBlocked };
      results.push({
        entry,
        error: denialError(error, scope) ?? {
          ...toWireError(error),
          code: 'PLUGIN_LOAD_FAILED',
          message: `${state.pluginName} failed to load: ${error instanceof Error ? error.message : String(error)}`,
        },
      });
    }
  }
  return { result: { entries: results }, tampered: changedGlobals(state.snapshot) };
}

function describePlugin(plugin: KinegraphPlugin): PluginDescriptionWire {
  const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value ?? null)) as T;
  const nodes: NodeDescriptionWire[] = (plugin.nodes ?? []).flatMap((node) =>
    node
      ? [
          {
            type: node.type,
            version: node.version,
            title: node.title,
            category: node.category,
            description: node.description,
            // TypeBox marks schemas with symbols; the runtime needs the JSON Schema only.
            params: plain(node.params) as Record<string, unknown>,
            inputs: plain(node.inputs),
            outputs: plain(node.outputs),
            ...(node.cache === false ? { cache: false } : {}),
            fingerprint: typeof node.fingerprint === 'function',
            memory: typeof node.memory === 'function',
            migrations: Object.keys(node.migrate ?? {})
              .map(Number)
              .filter((v) => Number.isInteger(v) && typeof node.migrate?.[v] === 'function'),
          },
        ]
      : [],
  );
  return {
    name: plugin.name,
    ...(typeof plugin.version === 'string' ? { version: plugin.version } : {}),
    ...(plugin.portTypes ? { portTypes: plain(plugin.portTypes) } : {}),
    nodes,
  };
}
