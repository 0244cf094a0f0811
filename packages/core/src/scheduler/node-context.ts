import { TensorOps } from '../ops/tensor-ops.js';
import type { FileAccess } from '../sdk/files.js';
import type { NodeContext } from '../sdk/node.js';
import type { TensorStore } from '../tensor/types.js';
import type { RunState } from './run-state.js';

/** What one node's context is made of. */
export interface NodeContextParts {
  readonly nodeId: string;
  readonly run: RunState;
  /** The node's own signal: the run's halt, or the node's time limit. */
  readonly signal: AbortSignal;
  /** The node's view of the tensor store (see scoped-store.ts). */
  readonly tensors: TensorStore;
  readonly files: FileAccess;
  /** Whether anybody will see previews; when not, previews sent anyway are dropped. */
  readonly previews: boolean;
}

/**
 * The {@link NodeContext} a node's `run` gets. Progress is clamped to [0, 1] and sent only when it moved
 * (or carries a message or preview), so a node reporting from a tight loop cannot flood the clients.
 */
export function createNodeContext(parts: NodeContextParts): NodeContext {
  const { nodeId, run, signal, tensors, files, previews } = parts;
  let lastFraction = -1;
  return {
    nodeId,
    signal,
    tensors,
    ops: new TensorOps(tensors),
    files,
    workflow: run.prepared.workflow,
    previews,
    ...(run.memory ? { budget: run.memory } : {}),
    progress(fraction, rawUpdate) {
      const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
      const update =
        previews || !rawUpdate?.preview ? rawUpdate : { ...(rawUpdate.message ? { message: rawUpdate.message } : {}) };
      // Previews always go out; bare progress only when it moved, so tight loops cannot flood clients.
      if (!update?.preview && Math.abs(clamped - lastFraction) < 0.001 && !update?.message) return;
      lastFraction = clamped;
      run.emit({
        type: 'node:progress',
        runId: run.runId,
        nodeId,
        fraction: clamped,
        ...(update?.message ? { message: update.message } : {}),
        ...(update?.preview ? { preview: update.preview } : {}),
      });
    },
    warn(code, message) {
      run.emit({ type: 'node:warning', runId: run.runId, nodeId, code, message });
    },
    throwIfCancelled() {
      signal.throwIfAborted();
    },
  };
}
