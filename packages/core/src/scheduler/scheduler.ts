import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { Observable, type Subscriber } from 'rxjs';
import { TensorOps } from '../ops/tensor-ops.js';
import type { NodeContext } from '../sdk/node.js';
import type { TensorHandle, TensorStore } from '../tensor/types.js';
import { isAbortError, KinegraphError, serializeError } from '../util/errors.js';
import { contentHash } from '../util/hash.js';
import type { PreparedNode, PreparedWorkflow } from '../validate/validate.js';
import type { RunEvent } from './events.js';
import { createFileAccess } from './file-access.js';
import { bytesHeld, checkNodeMemory, defaultMemoryBudget, planMemory, RunMemory } from './memory-budget.js';
import type { OutputCache } from './output-cache.js';
import { ScopedTensorStore } from './scoped-store.js';
import { collectTensors, summarizeOutput } from './tensor-walk.js';

/**
 * Runs in progress in this process. An exception that escapes a node's own promise chain (a throw in a
 * timer callback, an unawaited rejection) cannot be traced to its node, so {@link failActiveRuns} fails
 * the runs that were executing instead of letting it take the process down.
 */
const activeRuns = new Set<{ fail(error: unknown): void }>();

/**
 * Fails every run in progress with `NODE_UNCAUGHT_ERROR`, naming the nodes that were running. Hosts call it
 * from `uncaughtException`/`unhandledRejection` handlers (see `Runtime.create({ catchStrayErrors })`).
 * Returns how many runs were failed (0: the error did not come from a run).
 */
export function failActiveRuns(error: unknown): number {
  const runs = [...activeRuns];
  for (const run of runs) run.fail(error);
  return runs.length;
}

/** Everything a run needs besides the workflow. */
export interface ExecuteOptions {
  /** The device's tensor store; obtained lazily so runs of tensor-free graphs never start a worker. */
  readonly store: () => Promise<TensorStore>;
  readonly cache: OutputCache;
  /** Cancels the run; the running nodes see it through `context.signal`. */
  readonly signal?: AbortSignal;
  /** Where outputs are written. */
  readonly outputFolder: string;
  /** Folders file-reading nodes may read from. */
  readonly allowedFolders: readonly string[];
  /** How many independent nodes may run at once. Default 4. */
  readonly concurrency?: number;
  /** A node running longer than this fails with NODE_TIMEOUT (ms). Default: no limit. */
  readonly nodeTimeoutMs?: number;
  readonly runId?: string;
  /** Whether previews are wanted (`context.previews`); when false, previews nodes send are dropped. Default true. */
  readonly previews?: boolean;
  /** The device nodes are told before the store has started (`cpu` when unsure). */
  readonly deviceHint?: TensorStore['device'];
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
    void runGraph(prepared, options, controller.signal, subscriber).finally(() => {
      options.signal?.removeEventListener('abort', onOuterAbort);
      subscriber.complete();
    });
    return () => controller.abort(new DOMException('The run was cancelled.', 'AbortError'));
  });
}

interface NodeState {
  readonly node: PreparedNode;
  /** Nodes this one reads from (distinct). */
  readonly dependencies: string[];
  /** Nodes that read from this one (distinct). */
  readonly consumers: string[];
  pendingConsumers: number;
  key?: string;
  outputs?: Record<string, unknown>;
  /** Tensors the run holds one reference on for this node's outputs. */
  held: TensorHandle[];
}

async function runGraph(
  prepared: PreparedWorkflow,
  options: ExecuteOptions,
  signal: AbortSignal,
  subscriber: Subscriber<RunEvent>,
): Promise<void> {
  const runId = options.runId ?? randomUUID();
  const started = performance.now();
  const emit = (event: RunEvent) => {
    if (!subscriber.closed) subscriber.next(event);
  };
  const states = new Map<string, NodeState>();
  for (const id of prepared.order) {
    const node = prepared.nodes.get(id)!;
    const dependencies = [...new Set(Object.values(node.inputs).map((e) => e.node))];
    states.set(id, { node, dependencies, consumers: [], pendingConsumers: 0, held: [] });
  }
  for (const state of states.values()) {
    for (const dep of state.dependencies) states.get(dep)!.consumers.push(state.node.id);
  }
  for (const state of states.values()) state.pendingConsumers = state.consumers.length;

  emit({ type: 'run:start', runId, nodes: [...prepared.order], time: Date.now() });
  // What the run's live tensors (outputs not yet consumed) leave of its budget.
  const memory = new RunMemory(options.memoryBudgetBytes ?? defaultMemoryBudget(), () =>
    bytesHeld([...states.values()].map((s) => s.held)),
  );
  const files: string[] = [];
  const executed: string[] = [];
  const cached: string[] = [];
  let store: TensorStore | undefined;
  const startStore = async (): Promise<TensorStore> => (store ??= await options.store());
  let failure: { nodeId: string; error: unknown } | undefined;
  const internal = new AbortController();
  const onAbort = () => internal.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) internal.abort(signal.reason);

  const releaseHeld = (state: NodeState) => {
    for (const handle of state.held) store?.release(handle);
    state.held = [];
  };
  // A consumer finished (or will never run): the producer's outputs may be freed once nobody needs them.
  const consumed = (producerId: string) => {
    const producer = states.get(producerId)!;
    if (--producer.pendingConsumers === 0) releaseHeld(producer);
  };

  const runNode = async (state: NodeState): Promise<void> => {
    const { node } = state;
    const definition = node.registered.definition;
    const inputs: Record<string, unknown> = {};
    const inputKeys: Record<string, string> = {};
    for (const [port, edge] of Object.entries(node.inputs)) {
      const source = states.get(edge.node)!;
      inputs[port] = source.outputs![edge.output];
      inputKeys[port] = `${source.key}.${edge.output}`;
    }
    const fileAccess = createFileAccess({
      allowedFolders: options.allowedFolders,
      outputFolder: options.outputFolder,
      nodeId: node.id,
    });
    const fingerprint = definition.fingerprint
      ? await definition.fingerprint(node.params as never, { files: fileAccess })
      : '';
    const cacheable = definition.cache !== false;
    state.key = contentHash({
      type: definition.type,
      version: definition.version,
      params: node.params,
      inputs: inputKeys,
      fingerprint,
      nonce: cacheable ? undefined : randomUUID(),
    });

    const hit = cacheable ? options.cache.get(state.key) : undefined;
    if (hit) {
      const tensors = [...collectTensors(hit).values()];
      if (tensors.length) await startStore();
      for (const handle of tensors) store!.retain(handle);
      state.held = tensors;
      state.outputs = hit;
      cached.push(node.id);
      emit({ type: 'node:cached', runId, nodeId: node.id, nodeType: definition.type });
      return;
    }

    // Refused before it allocates anything, when what it declares does not fit what the run has left.
    const refusal = checkNodeMemory(node, inputs, memory);
    if (refusal) throw Object.assign(refusal, { failedNodeId: node.id });
    emit({ type: 'node:start', runId, nodeId: node.id, nodeType: definition.type });
    const nodeStarted = performance.now();
    const nodeController = new AbortController();
    const abortNode = () => nodeController.abort(internal.signal.reason);
    internal.signal.addEventListener('abort', abortNode, { once: true });
    const scoped = new ScopedTensorStore(startStore, nodeController.signal, options.deviceHint, () => store);
    let lastFraction = -1;
    const previews = options.previews ?? true;
    const context: NodeContext = {
      nodeId: node.id,
      signal: nodeController.signal,
      tensors: scoped,
      ops: new TensorOps(scoped),
      files: fileAccess,
      workflow: prepared.workflow,
      previews,
      budget: memory,
      progress(fraction, rawUpdate) {
        const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
        const update =
          previews || !rawUpdate?.preview
            ? rawUpdate
            : { ...(rawUpdate.message ? { message: rawUpdate.message } : {}) };
        // Previews always go out; bare progress only when it moved, so tight loops cannot flood clients.
        if (!update?.preview && Math.abs(clamped - lastFraction) < 0.001 && !update?.message) return;
        lastFraction = clamped;
        emit({
          type: 'node:progress',
          runId,
          nodeId: node.id,
          fraction: clamped,
          ...(update?.message ? { message: update.message } : {}),
          ...(update?.preview ? { preview: update.preview } : {}),
        });
      },
      warn(code, message) {
        emit({ type: 'node:warning', runId, nodeId: node.id, code, message });
      },
      throwIfCancelled() {
        nodeController.signal.throwIfAborted();
      },
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = Promise.resolve().then(() =>
        definition.run({ params: node.params as never, inputs: inputs as never, context }),
      );
      // If the race below settles first, the node's own promise may still reject later: never unhandled.
      work.catch(() => undefined);
      const guards: Array<Promise<never>> = [abortPromise(nodeController.signal)];
      if (options.nodeTimeoutMs !== undefined) {
        guards.push(
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const error = new KinegraphError(
                'NODE_TIMEOUT',
                `Node "${node.id}" (${definition.type}) did not finish within ${options.nodeTimeoutMs} ms.`,
                {
                  nodeId: node.id,
                  hint: 'Check the node\u2019s inputs, or raise the node time limit.',
                },
              );
              nodeController.abort(error);
              reject(error);
            }, options.nodeTimeoutMs);
          }),
        );
      }
      // A node that ignores its signal still cannot hold the run: the race settles on abort or timeout,
      // and what the node makes afterwards is freed when it finally settles.
      const outputs = (await Promise.race([work, ...guards])) as Record<string, unknown>;
      checkOutputs(node, outputs);
      const keep = [...collectTensors(outputs).values()];
      scoped.finish(keep);
      state.held = keep;
      state.outputs = outputs;
      for (const file of fileAccess.written) files.push(file);
      executed.push(node.id);
      if (cacheable) options.cache.set(state.key, outputs);
      const summaries: Record<string, ReturnType<typeof summarizeOutput>> = {};
      for (const [name, value] of Object.entries(outputs)) summaries[name] = summarizeOutput(value);
      emit({
        type: 'node:done',
        runId,
        nodeId: node.id,
        nodeType: definition.type,
        ms: performance.now() - nodeStarted,
        outputs: summaries,
      });
    } catch (error) {
      scoped.discard();
      await fileAccess.cleanup();
      throw Object.assign(error instanceof Error ? error : new Error(String(error)), { failedNodeId: node.id });
    } finally {
      if (timer) clearTimeout(timer);
      internal.signal.removeEventListener('abort', abortNode);
    }
  };

  const stray = {
    fail(error: unknown) {
      if (failure || signal.aborted) return;
      const nodes = [...running.keys()];
      const nodeId = nodes[0] ?? prepared.order[0] ?? '';
      const message = error instanceof Error ? error.message : String(error);
      failure = {
        nodeId,
        error: new KinegraphError(
          'NODE_UNCAUGHT_ERROR',
          `An error escaped node${nodes.length > 1 ? 's' : ''} ${nodes.map((n) => `"${n}"`).join(', ') || '(none running)'} outside its run: ${message}`,
          {
            nodeId,
            hint: 'A plugin threw from a callback it did not await (a timer or event handler). Report it to the plugin\u2019s authors.',
          },
        ),
      };
      emit({ type: 'node:error', runId, nodeId, error: serializeError(failure.error, nodeId) });
      internal.abort(failure.error);
    },
  };
  activeRuns.add(stray);

  // A node that would not fit the budget whatever happens before it refuses the whole run, before any
  // node runs.
  let planned: ReturnType<typeof planMemory>;
  try {
    planned = planMemory(prepared, memory.bytes);
  } catch (error) {
    planned = error as ReturnType<typeof planMemory>;
  }
  if (planned) {
    const nodeId = planned.nodeId ?? prepared.order[0] ?? '';
    failure = { nodeId, error: planned };
    emit({ type: 'node:error', runId, nodeId, error: serializeError(planned, nodeId) });
  }

  // Dispatch: start every node whose dependencies are done, up to the concurrency limit.
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const remainingDeps = new Map<string, number>();
  for (const state of states.values()) remainingDeps.set(state.node.id, state.dependencies.length);
  // A queue with a moving head: shift() would make wide graphs quadratic.
  const ready: string[] = prepared.order.filter((id) => remainingDeps.get(id) === 0);
  let head = 0;
  const running = new Map<string, Promise<void>>();

  await new Promise<void>((resolveAll) => {
    const pump = () => {
      if (failure || internal.signal.aborted) {
        if (running.size === 0) resolveAll();
        return;
      }
      while (head < ready.length && running.size < concurrency) {
        const id = ready[head++]!;
        const state = states.get(id)!;
        const task = runNode(state).then(
          () => {
            running.delete(id);
            for (const dep of state.dependencies) consumed(dep);
            for (const consumer of state.consumers) {
              const left = remainingDeps.get(consumer)! - 1;
              remainingDeps.set(consumer, left);
              if (left === 0) ready.push(consumer);
            }
            if (state.consumers.length === 0) releaseHeld(state);
            pump();
          },
          (error: unknown) => {
            running.delete(id);
            for (const dep of state.dependencies) consumed(dep);
            // The first failure fails the run; errors of nodes aborted because of it, or because the user
            // cancelled, are consequences and not reported as failures of their own.
            const consequence = signal.aborted || (internal.signal.aborted && isAbortError(error));
            if (!consequence && !failure) {
              failure = { nodeId: id, error };
              emit({ type: 'node:error', runId, nodeId: id, error: serializeError(error, id) });
              internal.abort(error);
            }
            pump();
          },
        );
        running.set(id, task);
      }
      if (running.size === 0) resolveAll();
    };
    internal.signal.addEventListener('abort', () => pump(), { once: true });
    pump();
  });

  activeRuns.delete(stray);
  // Whatever the outcome, the run gives back every reference it holds.
  for (const state of states.values()) releaseHeld(state);
  signal.removeEventListener('abort', onAbort);
  const ms = performance.now() - started;
  if (signal.aborted) emit({ type: 'run:cancelled', runId, ms });
  else if (failure)
    emit({
      type: 'run:error',
      runId,
      nodeId: failure.nodeId,
      error: serializeError(failure.error, failure.nodeId),
      ms,
    });
  else emit({ type: 'run:done', runId, ms, files, executed, cached });
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fail = () =>
      reject(signal.reason instanceof Error ? signal.reason : new DOMException('The run was cancelled.', 'AbortError'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

function checkOutputs(node: PreparedNode, outputs: unknown): asserts outputs is Record<string, unknown> {
  const definition = node.registered.definition;
  if (typeof outputs !== 'object' || outputs === null) {
    throw new KinegraphError(
      'NODE_OUTPUT_INVALID',
      `Node "${node.id}" (${definition.type}) returned ${outputs === null ? 'null' : typeof outputs} instead of its outputs.`,
      {
        nodeId: node.id,
        hint: `run() must return an object with: ${Object.keys(definition.outputs).join(', ') || '(no outputs)'}.`,
      },
    );
  }
  const missing = Object.keys(definition.outputs).filter((name) => !(name in outputs));
  if (missing.length) {
    throw new KinegraphError(
      'NODE_OUTPUT_INVALID',
      `Node "${node.id}" (${definition.type}) returned no value for output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
      {
        nodeId: node.id,
        hint: 'This is a bug in the node\u2019s plugin; report it to its authors.',
      },
    );
  }
}

/** Default allowed folders for a workflow file: its folder and `inputs/` beside the current directory. */
export function defaultAllowedFolders(
  workflowPath: string | undefined,
  extra: readonly string[] = [],
  cwd = process.cwd(),
): string[] {
  const folders = [
    ...(workflowPath ? [dirname(resolve(workflowPath))] : []),
    resolve(cwd, 'inputs'),
    ...extra.map((f) => resolve(cwd, f)),
  ];
  return [...new Set(folders)];
}
