import { Observable } from 'rxjs';
import type { TensorStore } from '../tensor/types.js';
import type { KinegraphError } from '../util/errors.js';
import type { PreparedWorkflow } from '../validate/validate.js';
import { Dispatch } from './dispatch.js';
import type { RunEvent } from './events.js';
import { bytesHeld, defaultMemoryBudget, planMemory, RunMemory } from './memory-budget.js';
import { RunState } from './run-state.js';
import { type SettleOptions, settleNode } from './settle-node.js';
import { watchStrayErrors } from './stray-errors.js';

/** Everything a run needs besides the workflow. */
export interface ExecuteOptions extends SettleOptions {
  /** The device's tensor store; obtained lazily so runs of tensor-free graphs never start a worker. */
  readonly store: () => Promise<TensorStore>;
  /** Cancels the run; the running nodes see it through `context.signal`. */
  readonly signal?: AbortSignal;
  /** How many independent nodes may run at once. Default 4. */
  readonly concurrency?: number;
  readonly runId?: string;
  /** The run's memory budget, bytes (see `memory-budget.ts`). Default: half of what the process may use. */
  readonly memoryBudgetBytes?: number;
}

/**
 * Runs a validated workflow. Returns a cold Observable: subscribing starts the run, unsubscribing cancels
 * it. Nodes run in dependency order, independent ones concurrently; unchanged nodes come from the cache.
 * A failing node fails the run (naming the node), never the process.
 */
export function executeWorkflow(prepared: PreparedWorkflow, options: ExecuteOptions): Observable<RunEvent> {
  return new Observable<RunEvent>((subscriber) => {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) controller.abort(options.signal.reason);
    else options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const emit = (event: RunEvent) => {
      if (!subscriber.closed) subscriber.next(event);
    };
    void runToEnd(prepared, options, controller.signal, emit).finally(() => {
      options.signal?.removeEventListener('abort', onOuterAbort);
      subscriber.complete();
    });
    return () => controller.abort(new DOMException('The run was cancelled.', 'AbortError'));
  });
}

/**
 * One run, start to end: settles every node in dependency order (dispatch.ts decides what is ready and
 * frees what is no longer needed; settle-node.ts decides how each node is settled and does it), then
 * gives back every tensor reference and emits the run's last event.
 */
async function runToEnd(
  prepared: PreparedWorkflow,
  options: ExecuteOptions,
  cancel: AbortSignal,
  emit: (event: RunEvent) => void,
): Promise<void> {
  const run = new RunState(prepared, cancel, options.store, emit, options.runId);
  const dispatch = new Dispatch(prepared, (handle) => run.release(handle));
  run.memory = new RunMemory(options.memoryBudgetBytes ?? defaultMemoryBudget(), () => bytesHeld(dispatch.held()));
  run.start();
  // A node that would not fit the budget whatever happens before it refuses the whole run, before any node runs.
  // A plugin's buggy declaration throws instead: that fails the run just the same.
  let refusal: KinegraphError | undefined;
  try {
    refusal = planMemory(prepared, run.memory.bytes, run.memory.facts);
  } catch (error) {
    refusal = error as KinegraphError;
  }
  if (refusal) run.nodeFailed(refusal.nodeId ?? prepared.order[0] ?? '', refusal);
  const unwatch = watchStrayErrors({ failByStrayError: (error) => run.failByStrayError(error, dispatch.running) });
  try {
    await dispatch.drain({
      concurrency: options.concurrency ?? 4,
      settle: (node, inputs) => settleNode(node, inputs, run, options),
      failed: (nodeId, error) => run.nodeFailed(nodeId, error),
      halted: () => run.halted,
      halt: run.signal,
    });
  } finally {
    unwatch();
  }
  dispatch.releaseAll();
  run.finish();
}
