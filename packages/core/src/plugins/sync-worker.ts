/**
 * A worker thread of the runtime (built as `dist/plugin-sync-worker.js`) that owns one plugin process and
 * answers the runtime's synchronous calls into it: the runtime posts a call on a message port and waits
 * with `Atomics.wait`; this thread makes the call, posts the answer and wakes it. Validation (migrations)
 * and memory planning (`memory` declarations) are synchronous, and the plugin's functions live in its
 * process. Trusted code: it runs in the runtime's process, and checks what the plugin process answers as
 * `plugin-process.ts` does.
 */

import { type MessagePort, workerData } from 'node:worker_threads';
import { KinegraphError } from '../util/errors.js';
import { PluginProcess } from './plugin-process.js';
import { toWireError } from './protocol.js';
import type { LaunchSpec } from './sandbox.js';

/** What the runtime starts this thread with. */
export interface SyncWorkerData {
  readonly package: string;
  readonly dir: string;
  readonly entries: readonly string[];
  readonly launch: LaunchSpec;
  readonly port: MessagePort;
  /** An Int32Array over a SharedArrayBuffer: [0] is set to 1 when an answer has been posted. */
  readonly flag: Int32Array;
}

/** A call from the runtime. */
export type SyncCall =
  | { readonly id: number; readonly op: 'memory'; readonly type: string; readonly args: unknown }
  | {
      readonly id: number;
      readonly op: 'migrate';
      readonly type: string;
      readonly from: number;
      readonly node: unknown;
    }
  | { readonly id: number; readonly op: 'close' };

const data = workerData as SyncWorkerData;
let process_: PluginProcess | undefined;

function ready(): Promise<PluginProcess> {
  if (process_?.alive) return Promise.resolve(process_);
  const child = new PluginProcess(data.package, 'sync', data.launch, (line) =>
    globalThis.process.stderr.write(`[${data.package}] ${line}\n`),
  );
  process_ = child;
  return child.load(data.dir, data.entries).then((result) => {
    const failed = result.entries.find((e) => e.error)?.error;
    if (failed) throw new KinegraphError(failed.code ?? 'PLUGIN_LOAD_FAILED', failed.message);
    return child;
  });
}

function answer(message: unknown): void {
  data.port.postMessage(message);
  Atomics.store(data.flag, 0, 1);
  Atomics.notify(data.flag, 0);
}

data.port.on('message', async (call: SyncCall) => {
  if (call.op === 'close') {
    await process_?.kill('was stopped because the runtime closed');
    answer({ id: call.id, ok: true, value: null });
    data.port.close();
    return;
  }
  try {
    const child = await ready();
    const value =
      call.op === 'memory'
        ? await child.call({ op: 'memory', type: call.type, nodeId: '', args: call.args }, undefined)
        : await child.call({ op: 'migrate', type: call.type, nodeId: '', from: call.from, node: call.node }, undefined);
    answer({ id: call.id, ok: true, value });
  } catch (error) {
    answer({ id: call.id, ok: false, error: toWireError(error) });
  }
});
