import { randomUUID } from 'node:crypto';
import type { TensorHandle, TensorStore } from '../tensor/types.js';
import { isAbortError, serializeError } from '../util/errors.js';
import type { PreparedWorkflow } from '../validate/validate.js';
import type { RunEvent } from './events.js';
import type { RunMemory } from './memory-budget.js';
import { uncaughtNodeError } from './stray-errors.js';

/**
 * What the nodes of one run share: its id and events, the tensor store (started on first use, so runs of
 * tensor-free graphs never start a worker), the record of what ran and what was written, and how the run
 * ends: the first failure fails it and halts the other nodes; errors that follow from a failure or from
 * cancelling are consequences, not failures of their own.
 */
export class RunState {
  readonly runId: string;
  /** Files the run's nodes wrote, in the order they finished. */
  readonly files: string[] = [];
  /** Nodes that ran, and nodes whose outputs came from the cache, in the order they settled. */
  readonly executed: string[] = [];
  readonly cached: string[] = [];
  readonly #started = performance.now();
  /** Aborted on cancellation or on the first failure: what every running node's signal follows. */
  readonly #halt = new AbortController();
  readonly #onCancel = () => this.#halt.abort(this.cancel.reason);
  /** The run's memory budget and what its live tensors leave of it (set before the run starts). */
  memory: RunMemory | undefined;
  #failure: { nodeId: string; error: unknown } | undefined;
  #store: TensorStore | undefined;

  /**
   * @param cancel The user's cancellation (or the subscriber going away).
   * @param openStore Starts the device's tensor store (called once, on the first tensor a node needs).
   * @param emit Sends an event to whoever watches the run.
   */
  constructor(
    readonly prepared: PreparedWorkflow,
    private readonly cancel: AbortSignal,
    private readonly openStore: () => Promise<TensorStore>,
    readonly emit: (event: RunEvent) => void,
    runId: string = randomUUID(),
  ) {
    this.runId = runId;
    cancel.addEventListener('abort', this.#onCancel, { once: true });
    if (cancel.aborted) this.#halt.abort(cancel.reason);
  }

  /** Aborted when the run is cancelled or has failed; running nodes see it through their own signal. */
  get signal(): AbortSignal {
    return this.#halt.signal;
  }

  /** True once no further node may start. */
  get halted(): boolean {
    return this.#failure !== undefined || this.#halt.signal.aborted;
  }

  /** The tensor store, if a node has started it. */
  get store(): TensorStore | undefined {
    return this.#store;
  }

  /** The tensor store, starting it on first use. */
  async startStore(): Promise<TensorStore> {
    this.#store ??= await this.openStore();
    return this.#store;
  }

  /** Gives back a reference the run held (no store yet: no tensor exists either). */
  release(handle: TensorHandle): void {
    this.#store?.release(handle);
  }

  /** Announces the run: the first event. */
  start(): void {
    this.emit({ type: 'run:start', runId: this.runId, nodes: [...this.prepared.order], time: Date.now() });
  }

  /**
   * A node failed. The first failure fails the run and halts the other nodes; errors of nodes aborted
   * because of it, or because the user cancelled, are consequences and not reported as failures of their own.
   */
  nodeFailed(nodeId: string, error: unknown): void {
    const consequence = this.cancel.aborted || (this.#halt.signal.aborted && isAbortError(error));
    if (!consequence && !this.#failure) this.#fail(nodeId, error);
  }

  /** An error escaped the nodes in `running` (see stray-errors.ts): it fails the run unless it already ended. */
  failByStrayError(error: unknown, running: readonly string[]): void {
    if (this.#failure || this.cancel.aborted) return;
    const uncaught = uncaughtNodeError(error, running, this.prepared.order[0] ?? '');
    this.#fail(uncaught.nodeId, uncaught.error);
  }

  /** Ends the run with its last event: done, failed (naming the node) or cancelled. */
  finish(): void {
    this.cancel.removeEventListener('abort', this.#onCancel);
    const ms = performance.now() - this.#started;
    const runId = this.runId;
    if (this.cancel.aborted) this.emit({ type: 'run:cancelled', runId, ms });
    else if (this.#failure) {
      const { nodeId, error } = this.#failure;
      this.emit({ type: 'run:error', runId, nodeId, error: serializeError(error, nodeId), ms });
    } else {
      this.emit({ type: 'run:done', runId, ms, files: this.files, executed: this.executed, cached: this.cached });
    }
  }

  #fail(nodeId: string, error: unknown): void {
    this.#failure = { nodeId, error };
    this.emit({ type: 'node:error', runId: this.runId, nodeId, error: serializeError(error, nodeId) });
    this.#halt.abort(error);
  }
}
