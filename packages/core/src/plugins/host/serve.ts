/**
 * A plugin process serving the runtime: calls in, requests and notes out, over the channel on file
 * descriptor 3 (see `../protocol.ts`).
 */

import { Socket } from 'node:net';
import type { AnyNodeDefinition } from '../../sdk/node.js';
import { EMPTY_STORE_STATS, type TensorStoreStats } from '../../tensor/types.js';
import {
  type FromPlugin,
  type NoteOp,
  type RequestOp,
  type ToPlugin,
  toWireError,
  type WireError,
} from '../protocol.js';
import { FrameChannel } from '../wire.js';
import { type DenialScope, denialError } from './denials.js';
import { changedGlobals } from './globals-guard.js';
import { type HostState, loadEntries } from './load-plugin.js';
import { type CallLink, type ModelMemo, rehydrate, remoteContext, remoteFiles } from './remote-context.js';

/** What a call's node is doing, for denial messages. */
const DOING = {
  run: 'running',
  fingerprint: 'fingerprinting',
  memory: 'declaring the memory of',
  migrate: 'migrating',
} as const;

/**
 * The state after each step of a node's migration chain from `from`, as far as the steps succeed; a step
 * that throws ends the chain with its error only when no step succeeded.
 */
function migrateChain(
  definition: AnyNodeDefinition,
  from: number,
  node: unknown,
): { states: unknown[]; error?: WireError } {
  const states: unknown[] = [];
  let current = node;
  try {
    for (let version = from; version < definition.version; version++) {
      const step = definition.migrate?.[version];
      if (!step) break;
      current = step(current as never);
      states.push(JSON.parse(JSON.stringify(current)));
    }
  } catch (error) {
    if (!states.length) throw error;
  }
  return { states };
}

/** Errors after which remembered model handles may be stale (the store restarted). */
const STORE_GONE = new Set(['UNKNOWN_MODEL', 'STORE_CLOSED', 'WORKER_CRASHED']);

/** Serves the runtime's calls until the channel closes. */
export function serve(): void {
  const socket = new Socket({ fd: 3, readable: true, writable: true });
  const state: HostState = { pluginName: '', networkBlocked: false, nodes: new Map(), snapshot: undefined };
  // Calls in progress: their abort controllers and write callbacks.
  const calls = new Map<
    number,
    { controller: AbortController; callbacks: Map<number, (tmp: string) => Promise<void>> }
  >();
  // Requests sent to the runtime, by id.
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextRequest = 1;
  let nextCallback = 1;
  let stats: TensorStoreStats = EMPTY_STORE_STATS;
  let opsStats: unknown = { graphsBuilt: 0, runs: 0, paramBytesFromJs: 0, noiseBytesFromJs: 0 };
  // What was left of each call's memory budget at its last answer.
  const budgets = new Map<number, number>();
  const callOfRequest = new Map<number, number>();
  let tainted = false;
  let nextProvisional = -1;
  const models: ModelMemo = { map: new WeakMap() };

  const channel = new FrameChannel(socket, {
    onMessage: (message) => void onMessage(message as ToPlugin),
    onBroken: () => process.exit(70),
    onClose: () => process.exit(0),
  });
  const send = (message: FromPlugin) => channel.send(message);

  const link = (callId: number): CallLink => ({
    request(op: RequestOp, args: unknown[], signal?: AbortSignal) {
      const id = nextRequest++;
      return new Promise((resolvePromise, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          if (!pending.delete(id)) return;
          callOfRequest.delete(id);
          send({ t: 'note', call: callId, op: 'cancel', args: [id] });
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        pending.set(id, {
          resolve: (value) => {
            signal?.removeEventListener('abort', onAbort);
            resolvePromise(value);
          },
          reject: (error) => {
            signal?.removeEventListener('abort', onAbort);
            reject(error);
          },
        });
        callOfRequest.set(id, callId);
        try {
          send({ t: 'req', id, call: callId, op, args });
        } catch (error) {
          pending.delete(id);
          callOfRequest.delete(id);
          reject(new TypeError(`${op}: its arguments cannot be sent to the runtime (${(error as Error).message})`));
        }
      });
    },
    note(op: NoteOp, args: unknown[]) {
      try {
        send({ t: 'note', call: callId, op, args });
      } catch {
        // A preview that cannot be encoded is dropped, as one sent while previews are off would be.
      }
    },
    stats: () => stats,
    opsStats: () => opsStats,
    budgetAvailable: () => budgets.get(callId),
    registerCallback(write) {
      const id = nextCallback++;
      calls.get(callId)?.callbacks.set(id, write);
      return id;
    },
    provisionalId: () => nextProvisional--,
    models,
  });

  const finish = (id: number, outcome: { ok: true; value: unknown } | { ok: false; error: WireError }) => {
    calls.delete(id);
    budgets.delete(id);
    const changes = state.snapshot && !tainted ? changedGlobals(state.snapshot) : [];
    if (changes.length) {
      tainted = true;
      const error: WireError = {
        name: 'KinegraphError',
        code: 'PLUGIN_GLOBALS_TAMPERED',
        message: `Plugin "${state.pluginName}" changed built-ins of its process: ${changes.slice(0, 8).join(', ')}${changes.length > 8 ? `, and ${changes.length - 8} more` : ''}.`,
        hint: `Its process is replaced; the runtime and other plugins were not affected. Report it to the authors of "${state.pluginName}".`,
      };
      // The runtime stops this process on seeing the code: what the plugin changed stays with it.
      send({ t: 'done', id, ok: false, error });
      return;
    }
    try {
      send({ t: 'done', id, ...outcome });
    } catch (error) {
      send({
        t: 'done',
        id,
        ok: false,
        error: {
          name: 'KinegraphError',
          code: 'PLUGIN_OUTPUT_INVALID',
          message: `Plugin "${state.pluginName}" returned a value that cannot cross to the runtime: ${(error as Error).message}.`,
          hint: 'Outputs of isolated plugins are JSON data, typed arrays and tensor handles.',
        },
      });
    }
  };

  const failure = (error: unknown, scope: DenialScope): WireError => denialError(error, scope) ?? toWireError(error);

  async function onMessage(message: ToPlugin): Promise<void> {
    switch (message.t) {
      case 'load': {
        state.pluginName = message.package;
        state.networkBlocked = message.networkBlocked;
        const { result, tampered } = await loadEntries(state, message.dir, message.entries);
        if (tampered.length) {
          const error: WireError = {
            name: 'KinegraphError',
            code: 'PLUGIN_GLOBALS_TAMPERED',
            message: `Plugin "${state.pluginName}" changed built-ins of its process while loading: ${tampered.slice(0, 8).join(', ')}.`,
            hint: `Report it to the authors of "${state.pluginName}".`,
          };
          send({ t: 'loaded', result: { entries: result.entries.map((e) => ({ entry: e.entry, error })) } });
          return;
        }
        send({ t: 'loaded', result });
        return;
      }
      case 'reply': {
        const waiter = pending.get(message.id);
        if (!waiter) return;
        pending.delete(message.id);
        if (message.stats) stats = message.stats;
        if (message.opsStats) opsStats = message.opsStats;
        const callId = callOfRequest.get(message.id);
        callOfRequest.delete(message.id);
        if (callId !== undefined && typeof message.budgetAvailable === 'number')
          budgets.set(callId, message.budgetAvailable);
        if (message.ok) waiter.resolve(message.value);
        else {
          if (message.error.code && STORE_GONE.has(message.error.code)) models.map = new WeakMap();
          waiter.reject(rehydrate(message.error));
        }
        return;
      }
      case 'abort': {
        calls.get(message.id)?.controller.abort(rehydrate(message.reason));
        return;
      }
      case 'call':
        return onCall(message);
    }
  }

  async function onCall(message: Extract<ToPlugin, { t: 'call' }>): Promise<void> {
    if (message.op === 'write') {
      const write = calls.get(message.parent)?.callbacks.get(message.callback);
      if (!write) return finish(message.id, { ok: false, error: { name: 'Error', message: 'no such write callback' } });
      try {
        await write(message.tmpPath);
        finish(message.id, { ok: true, value: null });
      } catch (error) {
        const scope = {
          plugin: state.pluginName,
          nodeId: message.nodeId,
          doing: 'writing an output in',
          networkBlocked: state.networkBlocked,
        };
        finish(message.id, { ok: false, error: failure(error, scope) });
      }
      return;
    }
    const definition = state.nodes.get(message.type);
    const scope: DenialScope = {
      plugin: state.pluginName,
      nodeId: message.nodeId,
      type: message.type,
      doing: DOING[message.op],
      networkBlocked: state.networkBlocked,
    };
    if (!definition) {
      finish(message.id, {
        ok: false,
        error: { name: 'Error', code: 'INTERNAL', message: `no node type ${message.type} here` },
      });
      return;
    }
    const controller = new AbortController();
    calls.set(message.id, { controller, callbacks: new Map() });
    try {
      let value: unknown;
      if (message.op === 'run') {
        const context = remoteContext(message, link(message.id), controller.signal);
        value = await definition.run({ params: message.params as never, inputs: message.inputs as never, context });
      } else if (message.op === 'memory') {
        value = definition.memory?.(message.args as never) ?? null;
      } else if (message.op === 'migrate') {
        value = migrateChain(definition, message.from, message.node);
      } else {
        value = definition.fingerprint
          ? await definition.fingerprint(message.params as never, {
              files: remoteFiles(message.files, link(message.id)),
            })
          : '';
      }
      finish(message.id, { ok: true, value });
    } catch (error) {
      finish(message.id, { ok: false, error: failure(error, scope) });
    }
  }

  // A throw from a timer or an unawaited promise of the plugin fails the calls in progress (as the runtime
  // does for in-process plugins) instead of ending the process.
  const onStray = (error: unknown) => {
    const active = [...calls.keys()];
    if (!active.length) {
      process.stderr.write(`kinegraph plugin host: an error escaped outside any call: ${String(error)}\n`);
      return;
    }
    const wire = failure(error, { plugin: state.pluginName, doing: 'running', networkBlocked: state.networkBlocked });
    for (const id of active)
      finish(id, {
        ok: false,
        error: wire.code
          ? wire
          : {
              name: 'KinegraphError',
              code: 'NODE_UNCAUGHT_ERROR',
              message: `An error escaped plugin "${state.pluginName}" outside its node's run: ${wire.message}`,
              hint: 'A plugin threw from a callback it did not await (a timer or event handler). Report it to the plugin\u2019s authors.',
            },
      });
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
}
