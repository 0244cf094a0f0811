/**
 * The runtime's side of one plugin process: starts it under its sandbox, loads the plugin, sends calls
 * and serves the requests those calls make through a {@link CallBroker}. Every message from the process
 * is checked before use; a malformed one, a crash or an exit fails the calls in progress with a coded error
 * naming the plugin, and the process is not used again.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { KinegraphError } from '../util/errors.js';
import {
  asWireError,
  type FromPlugin,
  type LoadResultWire,
  NOTE_OPS,
  type NoteOp,
  REQUEST_OPS,
  type RequestOp,
  type ToPlugin,
  toWireError,
  type WireError,
} from './protocol.js';
import type { LaunchSpec, NetworkIsolation } from './sandbox.js';
import { FrameChannel } from './wire.js';

/** Serves the requests and notes of one call (see `call-broker.ts`). */
export interface CallHandler {
  request(op: RequestOp, args: unknown[], signal: AbortSignal): Promise<{ value: unknown; extra?: object }>;
  note(op: NoteOp, args: unknown[]): void;
  /** Called once the call has settled: later requests are refused. */
  close(): void;
}

/** How long a cancelled call may take to stop before its process is killed. */
export const ABORT_GRACE_MS = 2000;

/** Bytes of the process's stderr kept for crash reports. */
const STDERR_TAIL = 4096;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type Settle = { resolve(value: unknown): void; reject(error: unknown): void };

interface ActiveCall extends Settle {
  readonly handler: CallHandler | undefined;
  readonly nodeId: string | undefined;
  /** Requests of this call being served, so a cancel note can abort one. */
  readonly requests: Map<number, AbortController>;
}

/** One running plugin process. */
export class PluginProcess {
  readonly #child: ChildProcess;
  readonly #channel: FrameChannel;
  readonly #calls = new Map<number, ActiveCall>();
  #loaded: Promise<LoadResultWire> | undefined;
  #onLoaded: Settle | undefined;
  #nextCall = 1;
  #dead: KinegraphError | undefined;
  #stderr = '';
  readonly #exited: Promise<void>;

  /** @param key What this process was started for (its grants): a host reuses it only for the same key. */
  constructor(
    readonly plugin: string,
    readonly key: string,
    readonly launch: LaunchSpec,
    log: (line: string) => void,
  ) {
    this.#child = spawn(launch.command, [...launch.args], {
      cwd: launch.cwd,
      env: { ...launch.env },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches the runtime, which cancels the call.
      detached: true,
    });
    // A child that could not start emits 'error' and no 'exit'.
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()).once('error', () => resolve()));
    const forward = (stream: NodeJS.ReadableStream | null, keep: boolean) => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        if (keep) this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line.trim()) log(printable(line));
      });
      stream?.on('end', () => partial.trim() && log(printable(partial)));
    };
    forward(this.#child.stdout, false);
    forward(this.#child.stderr, true);
    this.#channel = new FrameChannel(this.#child.stdio[3] as Duplex, {
      onMessage: (message) => this.#onMessage(message),
      onBroken: (why) => this.#fail('PLUGIN_PROTOCOL_ERROR', `sent a malformed message (${why})`),
      // The exit that usually follows says more (its code or signal) than the closed channel does.
      onClose: () => {
        const timer = setTimeout(() => this.#fail('PLUGIN_CRASHED', 'closed its channel'), 500);
        this.#child.once('exit', () => clearTimeout(timer));
      },
    });
    this.#child.on('error', (error) => this.#fail('PLUGIN_CRASHED', `could not start: ${error.message}`));
    this.#child.on('exit', (code, signal) =>
      this.#fail('PLUGIN_CRASHED', signal ? `was killed by ${signal}` : `exited with code ${code}`),
    );
    this.#idle();
  }

  /** Resolves when the process has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** How the process is kept off the network. */
  get network(): NetworkIsolation {
    return this.launch.network;
  }

  /** Whether the process can take calls. */
  get alive(): boolean {
    return this.#dead === undefined && !this.#retiring;
  }

  /** Calls in progress. */
  get busy(): number {
    return this.#calls.size;
  }

  /** Loads the plugin (once) and resolves to what each entry file gave. */
  load(dir: string, entries: readonly string[]): Promise<LoadResultWire> {
    this.#loaded ??= new Promise<LoadResultWire>((resolve, reject) => {
      if (this.#dead) return reject(this.#dead);
      this.#onLoaded = { resolve: resolve as (v: unknown) => void, reject };
      this.#busyChanged(1);
      this.#send({ t: 'load', package: this.plugin, dir, entries, networkBlocked: this.network.blocked });
    });
    return this.#loaded;
  }

  /**
   * Sends a call and serves its requests with `handler`. `signal` cancels it: the plugin sees its
   * context's signal abort, and a plugin that has not stopped `ABORT_GRACE_MS` later is killed.
   */
  call(
    message: DistributiveOmit<Extract<ToPlugin, { t: 'call' }>, 'id' | 't'>,
    makeHandler: ((callId: number) => CallHandler) | undefined,
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextCall++;
    const handler = makeHandler?.(id);
    const nodeId = 'nodeId' in message ? message.nodeId : undefined;
    let grace: NodeJS.Timeout | undefined;
    const onAbort = () => {
      // New calls go to a fresh process: this one may be stuck in code that ignores the signal.
      this.#retiring = true;
      this.#send({ t: 'abort', id, reason: toWireError(signal!.reason) });
      grace = setTimeout(() => {
        if (this.#calls.has(id))
          this.#fail('PLUGIN_CRASHED', `did not stop within ${ABORT_GRACE_MS} ms of being cancelled, and was stopped`);
      }, ABORT_GRACE_MS);
      grace.unref();
    };
    const settled = new Promise<unknown>((resolve, reject) => {
      this.#calls.set(id, { resolve, reject, handler, nodeId, requests: new Map() });
    }).finally(() => {
      if (grace) clearTimeout(grace);
      signal?.removeEventListener('abort', onAbort);
      handler?.close();
    });
    this.#busyChanged(1);
    this.#send({ ...message, t: 'call', id } as ToPlugin);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return settled;
  }

  /** Stops the process once its calls in progress have finished (at once when there are none). */
  retire(): void {
    this.#retiring = true;
    if (this.#pendingCount === 0) void this.kill('was retired');
  }

  #retiring = false;

  /** Stops the process; calls in progress fail with `PLUGIN_CRASHED` saying why. */
  kill(why = 'was stopped by the runtime'): Promise<void> {
    this.#fail('PLUGIN_CRASHED', why);
    // Whoever waits for the exit keeps the event loop alive until it comes: an idle (unreferenced) child
    // would otherwise let a host awaiting `close()` end with Node's "unsettled top-level await" (exit 13).
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.ref();
    return this.#exited;
  }

  #send(message: ToPlugin): void {
    try {
      this.#channel.send(message);
    } catch (error) {
      // Params or inputs JSON cannot carry (a BigInt): the call, not the process, is at fault.
      const id = (message as { id?: number }).id;
      const call = id === undefined ? undefined : this.#calls.get(id);
      if (!call) throw error;
      this.#settle(id!, () =>
        call.reject(
          new KinegraphError(
            'PLUGIN_INPUT_INVALID',
            `Cannot send a call to plugin "${this.plugin}": ${(error as Error).message}.`,
            {
              ...(call.nodeId ? { nodeId: call.nodeId } : {}),
              hint: 'Values passed to isolated plugins must be JSON data, typed arrays and tensor handles.',
            },
          ),
        ),
      );
    }
  }

  #onMessage(raw: unknown): void {
    const message = parseMessage(raw);
    if (!message) {
      this.#fail('PLUGIN_PROTOCOL_ERROR', 'sent a message the runtime does not know');
      return;
    }
    if (this.#dead) return;
    switch (message.t) {
      case 'loaded': {
        const waiter = this.#onLoaded;
        this.#onLoaded = undefined;
        if (!waiter) {
          this.#fail('PLUGIN_PROTOCOL_ERROR', 'answered a load it was not asked for');
          return;
        }
        this.#busyChanged(-1);
        waiter.resolve(message.result);
        return;
      }
      case 'done': {
        const call = this.#calls.get(message.id);
        if (!call) return;
        // A process whose built-ins were changed takes no more calls; it stops once the others finish.
        if (!message.ok && message.error.code === 'PLUGIN_GLOBALS_TAMPERED') this.#retiring = true;
        this.#settle(message.id, () => {
          if (!message.ok) call.reject(errorFromPlugin(message.error, call.nodeId, this.plugin));
          else call.resolve(message.value);
        });
        return;
      }
      case 'req':
        this.#serve(message);
        return;
      case 'note': {
        const call = this.#calls.get(message.call);
        if (!call?.handler) return;
        if (message.op === 'cancel') {
          call.requests
            .get(Number(message.args[0]))
            ?.abort(new DOMException('The request was cancelled.', 'AbortError'));
          return;
        }
        call.handler.note(message.op, message.args);
        return;
      }
    }
  }

  #serve(message: Extract<FromPlugin, { t: 'req' }>): void {
    const call = this.#calls.get(message.call);
    if (!call?.handler) {
      this.#send({
        t: 'reply',
        id: message.id,
        ok: false,
        error: {
          name: 'KinegraphError',
          code: 'NODE_FINISHED',
          message: `${message.op} came after its node had finished; everything a node does must happen before its run returns.`,
        },
      });
      return;
    }
    const controller = new AbortController();
    call.requests.set(message.id, controller);
    call.handler.request(message.op, message.args, controller.signal).then(
      ({ value, extra }) => {
        call.requests.delete(message.id);
        try {
          this.#send({ t: 'reply', id: message.id, ok: true, value, ...extra });
        } catch (error) {
          this.#send({ t: 'reply', id: message.id, ok: false, error: toWireError(error) });
        }
      },
      (error: unknown) => {
        call.requests.delete(message.id);
        this.#send({ t: 'reply', id: message.id, ok: false, error: toWireError(error) });
      },
    );
  }

  #settle(id: number, settle: () => void): void {
    if (!this.#calls.delete(id)) return;
    this.#busyChanged(-1);
    settle();
  }

  #fail(code: string, why: string): void {
    if (this.#dead) return;
    const tail = this.#stderr.trim().split('\n').slice(-5).join('\n');
    const hint = `${code === 'PLUGIN_CRASHED' ? 'It is started afresh on the next run. ' : ''}Report it to the authors of "${this.plugin}"${tail ? `; its last output:\n${tail}` : ''}.`;
    const error = (nodeId?: string) =>
      new KinegraphError(
        code,
        `The process of plugin "${this.plugin}" ${why}${nodeId ? ` while running node "${nodeId}"` : ''}.`,
        { ...(nodeId ? { nodeId } : {}), hint },
      );
    this.#dead = error();
    for (const [id, call] of [...this.#calls]) this.#settle(id, () => call.reject(error(call.nodeId)));
    this.#onLoaded?.reject(this.#dead);
    this.#onLoaded = undefined;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    this.#channel.close();
    this.#idle();
  }

  #pendingCount = 0;

  // An idle plugin process does not keep the runtime's process alive (a script that forgets
  // `runtime.close()` still exits); one with work in progress does.
  #busyChanged(delta: number): void {
    this.#pendingCount += delta;
    if (this.#pendingCount > 0) this.#ref();
    else if (this.#retiring) void this.kill('was retired');
    else this.#idle();
  }

  #ref(): void {
    this.#child.ref();
    (this.#child.stdio[3] as unknown as { ref?(): void }).ref?.();
  }

  #idle(): void {
    this.#child.unref();
    for (const stream of this.#child.stdio) (stream as unknown as { unref?(): void } | null)?.unref?.();
  }
}

/** A line of plugin output without control characters: no terminal escape sequences reach your terminal. */
function printable(line: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return line.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd').slice(0, 4000);
}

/** The plugin's error, rebuilt as a coded error the scheduler reports (its own code kept). */
function errorFromPlugin(wire: WireError, nodeId: string | undefined, plugin: string): Error {
  // A cancellation stays one (the scheduler reports the run as cancelled, not failed).
  if (wire.name === 'AbortError') return new DOMException(wire.message, 'AbortError');
  const code = wire.code ?? 'NODE_FAILED';
  return new KinegraphError(code, wire.message, {
    ...((wire.nodeId ?? nodeId) ? { nodeId: wire.nodeId ?? nodeId } : {}),
    ...(wire.hint ? { hint: wire.hint } : code === 'NODE_FAILED' ? { hint: `Thrown by plugin "${plugin}".` } : {}),
  });
}

/** Checks the shape of a message from a plugin process; undefined for anything else. */
function parseMessage(raw: unknown): FromPlugin | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const m = raw as Record<string, unknown>;
  const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  switch (m.t) {
    case 'loaded': {
      const entries = (m.result as { entries?: unknown } | undefined)?.entries;
      return Array.isArray(entries) ? (m as unknown as FromPlugin) : undefined;
    }
    case 'done':
      if (!isId(m.id) || typeof m.ok !== 'boolean') return undefined;
      return m.ok
        ? { t: 'done', id: m.id, ok: true, value: m.value }
        : { t: 'done', id: m.id, ok: false, error: asWireError(m.error) };
    case 'req':
      if (!isId(m.id) || !isId(m.call) || !Array.isArray(m.args) || !(REQUEST_OPS as readonly unknown[]).includes(m.op))
        return undefined;
      return { t: 'req', id: m.id, call: m.call, op: m.op as RequestOp, args: m.args };
    case 'note':
      if (!isId(m.call) || !Array.isArray(m.args) || !(NOTE_OPS as readonly unknown[]).includes(m.op)) return undefined;
      return { t: 'note', call: m.call, op: m.op as NoteOp, args: m.args };
    default:
      return undefined;
  }
}
