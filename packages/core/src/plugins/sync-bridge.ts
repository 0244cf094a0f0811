/**
 * Synchronous calls into an isolated plugin, for the two places the runtime needs them: validation runs a
 * node's migrations, and memory planning asks a node's `memory` declaration, both synchronously, while the
 * plugin's functions live in its process. A worker thread (`sync-worker.ts`) owns a plugin process started
 * for these calls (with the sandbox of a describe: no run folders); the runtime's thread posts a call and
 * blocks on `Atomics.wait` until the worker has the answer (about a message round trip; the first call
 * waits for the process to start). Answers are remembered per arguments, as both functions are pure.
 */

import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { KinegraphError } from '../util/errors.js';
import { asWireError } from './protocol.js';
import type { LaunchSpec } from './sandbox.js';
import type { SyncCall, SyncWorkerData } from './sync-worker.js';

/** Most remembered answers per plugin before the memo starts over. */
const MEMO_SIZE = 2000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Synchronous calls into one isolated plugin. */
export class SyncBridge {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  #flag: Int32Array | undefined;
  #next = 1;
  readonly #memo = new Map<string, unknown>();

  constructor(
    private readonly plugin: { package: string; dir: string; entries: readonly string[] },
    private readonly launch: () => LaunchSpec,
    private readonly script: () => string,
  ) {}

  /**
   * Makes a call and waits for its answer (at most `timeoutMs`). Throws the plugin's error (its code kept),
   * or `PLUGIN_CRASHED` when no answer came in time (the worker and its process are then replaced).
   */
  call(call: DistributiveOmit<SyncCall, 'id'>, timeoutMs: number): unknown {
    const key = JSON.stringify(call);
    if (this.#memo.has(key)) return structuredClone(this.#memo.get(key));
    const { port, flag } = this.#start();
    const id = this.#next++;
    Atomics.store(flag, 0, 0);
    port.postMessage({ ...call, id });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(flag, 0, 0, left) === 'timed-out') {
        this.close();
        throw new KinegraphError(
          'PLUGIN_CRASHED',
          `Plugin "${this.plugin.package}" did not answer within ${Math.round(timeoutMs / 1000)} s (${call.op}).`,
          {
            hint: `Its process is started afresh on the next call. Report it to the authors of "${this.plugin.package}".`,
          },
        );
      }
      Atomics.store(flag, 0, 0);
      // Answers to calls that timed out earlier are skipped.
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const answer = m.message as { id: number; ok: boolean; value?: unknown; error?: unknown };
        if (answer.id !== id) continue;
        if (!answer.ok) {
          const error = asWireError(answer.error);
          throw new KinegraphError(
            error.code ?? 'PLUGIN_CALL_FAILED',
            error.message,
            error.hint ? { hint: error.hint } : {},
          );
        }
        if (this.#memo.size >= MEMO_SIZE) this.#memo.clear();
        this.#memo.set(key, answer.value);
        return structuredClone(answer.value);
      }
    }
  }

  /** Stops the worker and its plugin process. */
  close(): void {
    const worker = this.#worker;
    const port = this.#port;
    this.#worker = undefined;
    this.#port = undefined;
    this.#flag = undefined;
    if (!worker || !port) return;
    // The worker stops its plugin process; the process also ends on its own when its pipe closes.
    port.postMessage({ id: 0, op: 'close' });
    setTimeout(() => void worker.terminate(), 2000).unref();
  }

  #start(): { port: MessagePort; flag: Int32Array } {
    if (this.#worker && this.#port && this.#flag) return { port: this.#port, flag: this.#flag };
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const workerData: SyncWorkerData = { ...this.plugin, launch: this.launch(), port: port2, flag };
    const worker = new Worker(this.script(), {
      workerData,
      transferList: [port2],
      name: `kinegraph-plugin-sync ${this.plugin.package}`,
    });
    // An idle bridge does not keep the runtime's process alive.
    worker.unref();
    port1.unref();
    worker.on('error', () => this.close());
    this.#worker = worker;
    this.#port = port1;
    this.#flag = flag;
    return { port: port1, flag };
  }
}
