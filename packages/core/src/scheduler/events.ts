import type { Preview } from '../sdk/node.js';
import type { SerializedError } from '../util/errors.js';

/** Events a run emits, in order, named `domain:verb`. All plain data except preview bytes. */
export type RunEvent =
  | { type: 'run:start'; runId: string; nodes: string[]; time: number }
  | { type: 'node:start'; runId: string; nodeId: string; nodeType: string }
  | { type: 'node:progress'; runId: string; nodeId: string; fraction: number; message?: string; preview?: Preview }
  | { type: 'node:warning'; runId: string; nodeId: string; code: string; message: string }
  | { type: 'node:cached'; runId: string; nodeId: string; nodeType: string }
  | {
      type: 'node:done';
      runId: string;
      nodeId: string;
      nodeType: string;
      ms: number;
      outputs: Record<string, OutputSummary>;
      /** What the node declared it would allocate, and what it did (see {@link NodeMemoryReport}). */
      memory?: NodeMemoryReport;
    }
  | { type: 'node:error'; runId: string; nodeId: string; error: SerializedError }
  | { type: 'run:done'; runId: string; ms: number; files: string[]; executed: string[]; cached: string[] }
  | { type: 'run:error'; runId: string; nodeId?: string; error: SerializedError; ms: number }
  | { type: 'run:cancelled'; runId: string; ms: number };

/** How a node output is described in events: tensors by shape, small values as they are. */
export type OutputSummary =
  | { kind: 'tensor'; dims: readonly number[]; dtype: string }
  | { kind: 'value'; value: string | number | boolean | null }
  | { kind: 'object'; type: string };

/**
 * A node's memory, as its `node:done` event reports it. `declaredBytes`: what its `memory` declaration
 * added up to for the inputs it got (absent when it declares nothing). `peakBytes`: the most it held at
 * once of the tensors it made, plus the data of the tensor it was reading into JS at that moment; its
 * inputs, model weights and ONNX Runtime's working memory inside a call are not counted.
 */
export interface NodeMemoryReport {
  readonly declaredBytes?: number;
  readonly peakBytes: number;
}

/** The event types in the order a run can emit them. */
export const RUN_EVENT_TYPES = [
  'run:start',
  'node:start',
  'node:progress',
  'node:warning',
  'node:cached',
  'node:done',
  'node:error',
  'run:done',
  'run:error',
  'run:cancelled',
] as const;

/** True for the events that end a run. */
export function isTerminalEvent(
  event: RunEvent,
): event is Extract<RunEvent, { type: 'run:done' | 'run:error' | 'run:cancelled' }> {
  return event.type === 'run:done' || event.type === 'run:error' || event.type === 'run:cancelled';
}
