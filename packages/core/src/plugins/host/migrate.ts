/** `plugin-host.js --migrate`: one node's migration chain in a short-lived process. */

import { readFileSync, writeSync } from 'node:fs';
import { toWireError } from '../protocol.js';
import { encodeFrame } from '../wire.js';
import { denialError } from './denials.js';
import { type HostState, loadEntries } from './load-plugin.js';

/** `--migrate`: runs one node's migration chain and writes every intermediate state to fd 3. */
export async function migrate(): Promise<void> {
  const request = JSON.parse(readFileSync(0, 'utf8')) as {
    package: string;
    dir: string;
    entries: string[];
    type: string;
    from: number;
    node: { params: Record<string, unknown>; inputs: Record<string, unknown> };
    networkBlocked: boolean;
  };
  const state: HostState = {
    pluginName: request.package,
    networkBlocked: request.networkBlocked,
    nodes: new Map(),
    snapshot: undefined,
  };
  const answer = (value: unknown) => writeSync(3, encodeFrame(value));
  const { result } = await loadEntries(state, request.dir, request.entries);
  const definition = state.nodes.get(request.type);
  if (!definition) {
    const error = result.entries.find((e) => e.error)?.error;
    answer({ states: [], error: error ?? { name: 'Error', message: `${request.type} is not in ${request.package}` } });
    return;
  }
  const states: unknown[] = [];
  let current = request.node;
  try {
    for (let version = request.from; version < definition.version; version++) {
      const step = definition.migrate?.[version];
      if (!step) break;
      current = step(current as never) as typeof current;
      states.push(JSON.parse(JSON.stringify(current)));
    }
    answer({ states });
  } catch (error) {
    const scope = {
      plugin: request.package,
      doing: 'migrating',
      type: request.type,
      networkBlocked: request.networkBlocked,
    };
    answer({ states, error: denialError(error, scope) ?? toWireError(error) });
  }
}
