import type { FileAccess } from '../sdk/files.js';
import type { TensorHandle, TensorStore } from '../tensor/types.js';
import { KinegraphError } from '../util/errors.js';
import type { PreparedNode } from '../validate/validate.js';
import { createNodeContext } from './node-context.js';
import type { RunState } from './run-state.js';
import { ScopedTensorStore } from './scoped-store.js';
import { collectTensors } from './tensor-walk.js';

/** How nodes are run: limits and what they are told. */
export interface NodeRunOptions {
  /** A node running longer than this fails with NODE_TIMEOUT (ms). Default: no limit. */
  readonly nodeTimeoutMs?: number;
  /** Whether previews are wanted (`context.previews`); when false, previews nodes send are dropped. Default true. */
  readonly previews?: boolean;
  /** The device nodes are told before the store has started (`cpu` when unsure). */
  readonly deviceHint?: TensorStore['device'];
}

/** What running a node gave: its outputs, and one reference on each tensor in them, now the caller's. */
export interface NodeRunResult {
  readonly outputs: Record<string, unknown>;
  readonly held: TensorHandle[];
  /** The node's high-water mark of the tensors it made (see `ScopedTensorStore.peakBytes`). */
  readonly peakBytes: number;
}

/**
 * Runs one node: calls its `run` with a context (progress, cancellation, tensors scoped to the node,
 * sandboxed files), races it against the run halting and the node's time limit, and checks that it returned
 * every output. Tensors the node made and did not return are freed; if it fails, everything it made is
 * freed and its unfinished output files are removed.
 */
export async function runNode(
  node: PreparedNode,
  inputs: Record<string, unknown>,
  files: FileAccess & { cleanup(): Promise<void> },
  run: RunState,
  options: NodeRunOptions,
): Promise<NodeRunResult> {
  const controller = new AbortController();
  const abortNode = () => controller.abort(run.signal.reason);
  run.signal.addEventListener('abort', abortNode, { once: true });
  if (run.signal.aborted) abortNode();
  const tensors = new ScopedTensorStore(
    () => run.startStore(),
    controller.signal,
    options.deviceHint,
    () => run.store,
  );
  const context = createNodeContext({
    nodeId: node.id,
    run,
    signal: controller.signal,
    tensors,
    files,
    previews: options.previews ?? true,
  });
  const timeLimit =
    options.nodeTimeoutMs === undefined ? undefined : startTimeLimit(node, options.nodeTimeoutMs, controller);
  try {
    const work = Promise.resolve().then(() =>
      node.registered.definition.run({ params: node.params as never, inputs: inputs as never, context }),
    );
    // If the race below settles first, the node's own promise may still reject later: never unhandled.
    work.catch(() => undefined);
    // A node that ignores its signal still cannot hold the run: the race settles on abort or timeout, and
    // what the node makes afterwards is freed when it finally settles (the scope is closed by then).
    const outputs: unknown = await Promise.race([
      work,
      abortPromise(controller.signal),
      ...(timeLimit ? [timeLimit.expired] : []),
    ]);
    checkOutputs(node, outputs);
    const held = [...collectTensors(outputs).values()];
    tensors.finish(held);
    return { outputs, held, peakBytes: tensors.peakBytes };
  } catch (error) {
    tensors.discard();
    await files.cleanup();
    throw error instanceof Error ? error : new Error(String(error));
  } finally {
    timeLimit?.stop();
    run.signal.removeEventListener('abort', abortNode);
  }
}

/**
 * A node's time limit: once it passes, the node's signal is aborted with NODE_TIMEOUT (so the node can
 * stop) and `expired` rejects with it (so the run need not wait for a node that does not), unless stopped.
 */
function startTimeLimit(
  node: PreparedNode,
  ms: number,
  controller: AbortController,
): { expired: Promise<never>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new KinegraphError(
        'NODE_TIMEOUT',
        `Node "${node.id}" (${node.registered.definition.type}) did not finish within ${ms} ms.`,
        { nodeId: node.id, hint: 'Check the node\u2019s inputs, or raise the node time limit.' },
      );
      controller.abort(error);
      reject(error);
    }, ms);
  });
  return { expired, stop: () => clearTimeout(timer) };
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
