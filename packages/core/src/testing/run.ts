/** What a test run did: its events, its error, and what its captures recorded. */
import type { RunEvent } from '../scheduler/events.js';
import { isTerminalEvent } from '../scheduler/events.js';
import type { PortValue } from '../sdk/port-types.js';
import type { SerializedError } from '../util/errors.js';
import { KinegraphError } from '../util/errors.js';
import { isCaptureMarker } from './nodes.js';
import type { CapturedTensor, CapturedValue } from './values.js';
import { isTestTensor } from './values.js';

/** The event that ended a run. */
export type RunEnd = Extract<RunEvent, { type: 'run:done' | 'run:error' | 'run:cancelled' }>;

/** A float32 tensor read back from a capture. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** The outcome of one test run (see `TestRuntime.run`). */
export class TestRun {
  /** Every event of the run, in order. */
  readonly events: readonly RunEvent[];
  /** The terminal event: `run:done`, `run:error` or `run:cancelled`. */
  readonly end: RunEnd;
  /** The error of a failed run (code, message, nodeId, hint); `undefined` unless the run failed. */
  readonly error: SerializedError | undefined;
  /** Files the run wrote. */
  readonly files: readonly string[];
  /**
   * The workflow document that ran: the test's nodes with sources and captures as the node types that stand
   * in for them (what a node embedding the workflow in a file writes, for instance).
   */
  readonly workflow: { readonly format: string; readonly nodes: Readonly<Record<string, unknown>> };

  readonly #captures: ReadonlyMap<string, { readonly portType: string; readonly value: unknown }>;
  readonly #nodes: Readonly<Record<string, unknown>>;

  constructor(
    events: readonly RunEvent[],
    captures: ReadonlyMap<string, { readonly portType: string; readonly value: unknown }>,
    nodes: Readonly<Record<string, unknown>>,
    workflow: TestRun['workflow'],
  ) {
    const end = events.at(-1);
    if (!end || !isTerminalEvent(end)) throw new Error('a run ended without a terminal event');
    this.events = events;
    this.end = end;
    this.error = end.type === 'run:error' ? end.error : undefined;
    this.files = end.type === 'run:done' ? end.files : [];
    this.workflow = workflow;
    this.#captures = captures;
    this.#nodes = nodes;
  }

  /**
   * A node's output as its `node:done` event describes it: small values (text, numbers, paths) as they are,
   * tensors as `{ kind: 'tensor', dims, dtype }`. `undefined` when the node did not run here.
   */
  output(nodeId: string, port: string): unknown {
    for (const event of this.events) {
      if (event.type !== 'node:done' || event.nodeId !== nodeId) continue;
      const summary = event.outputs[port];
      return summary?.kind === 'value' ? summary.value : summary;
    }
    return undefined;
  }

  /**
   * What capture `nodeId` recorded, tensors read into JS. With `portType`, checks that the value was of that
   * port type and types it accordingly (`captured('out', 'video').fps`). Throws `CAPTURE_EMPTY`, saying why,
   * when the capture did not run (the run failed before it, or `nodeId` is not a capture).
   */
  captured(nodeId: string): unknown;
  captured<T extends string>(nodeId: string, portType: T): CapturedValue<PortValue<T>>;
  captured(nodeId: string, portType?: string): unknown {
    const entry = this.#captures.get(nodeId);
    if (!entry) {
      const why = !isCaptureMarker(this.#nodes[nodeId])
        ? `'${nodeId}' is not a capture(...) node of this run`
        : this.error
          ? `the run failed first (${this.error.code}${this.error.nodeId ? ` in ${this.error.nodeId}` : ''}: ${this.error.message})`
          : `the run ended with ${this.end.type} before it ran`;
      throw new KinegraphError('CAPTURE_EMPTY', `Capture '${nodeId}' recorded nothing: ${why}.`);
    }
    if (portType !== undefined && entry.portType !== portType) {
      throw new KinegraphError('CAPTURE_TYPE', `Capture '${nodeId}' saw a ${entry.portType} value, not ${portType}.`);
    }
    return entry.value;
  }

  /**
   * The float32 tensor capture `nodeId` recorded: the value's only tensor, or its property `part` when it
   * has several (`tensor('cond', 'mask')` for a conditioning value).
   */
  tensor(nodeId: string, part?: string): FloatTensor {
    const value = this.captured(nodeId);
    let found: CapturedTensor | undefined;
    if (isTestTensor(value) && part === undefined) found = asCaptured(value);
    else if (typeof value === 'object' && value !== null) {
      const parts = Object.entries(value).filter(([, item]) => isTestTensor(item));
      const names = parts.map(([name]) => name);
      const chosen = part === undefined ? (parts.length === 1 ? parts[0] : undefined) : parts.find(([n]) => n === part);
      if (!chosen) {
        throw new KinegraphError(
          'CAPTURE_TYPE',
          part === undefined
            ? `Capture '${nodeId}' holds ${parts.length} tensors (${names.join(', ')}): name the one you want.`
            : `Capture '${nodeId}' has no tensor '${part}'; its tensors: ${names.join(', ') || 'none'}.`,
        );
      }
      found = asCaptured(chosen[1]);
    }
    if (!found) throw new KinegraphError('CAPTURE_TYPE', `Capture '${nodeId}' recorded no tensor.`);
    if (!(found.data instanceof Float32Array)) {
      throw new KinegraphError(
        'CAPTURE_TYPE',
        `Capture '${nodeId}' is ${found.dtype}, not float32: read it with captured('${nodeId}').`,
      );
    }
    return { data: found.data, dims: found.dims };
  }
}

function asCaptured(value: unknown): CapturedTensor | undefined {
  return isTestTensor(value) && value.dtype !== undefined
    ? { data: value.data, dims: value.dims, dtype: value.dtype }
    : undefined;
}
