/**
 * Errors a user can meet. Every one carries a stable `code`, the node it concerns (when there is one) and a
 * `hint` that says what to do, listing valid values where there are any.
 */
export class KinegraphError extends Error {
  /** Stable, machine-readable code (e.g. `NODE_TYPE_UNKNOWN`). Never reworded. */
  readonly code: string;
  /** Id of the workflow node the error concerns, if any. */
  readonly nodeId: string | undefined;
  /** What the user can do about it. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { nodeId?: string; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KinegraphError';
    this.code = code;
    this.nodeId = options.nodeId;
    this.hint = options.hint;
  }

  /** Plain-data form for JSON output, events and HTTP responses. */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** An error as plain data: what events, `--json` output and the server carry. */
export interface SerializedError {
  code: string;
  message: string;
  nodeId?: string;
  hint?: string;
}

/** Turns anything thrown into plain data, keeping code/nodeId/hint when present. */
export function serializeError(error: unknown, fallbackNodeId?: string): SerializedError {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; nodeId?: unknown; hint?: unknown };
    const out: SerializedError = {
      code: typeof e.code === 'string' ? e.code : e.name === 'AbortError' ? 'CANCELLED' : 'NODE_FAILED',
      message: e.message || String(error),
    };
    const nodeId = typeof e.nodeId === 'string' ? e.nodeId : fallbackNodeId;
    if (nodeId !== undefined) out.nodeId = nodeId;
    if (typeof e.hint === 'string') out.hint = e.hint;
    return out;
  }
  const out: SerializedError = { code: 'NODE_FAILED', message: String(error) };
  if (fallbackNodeId !== undefined) out.nodeId = fallbackNodeId;
  return out;
}

/** True for the error an aborted AbortSignal produces (DOMException or our own). */
export function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error as { name?: unknown }).name === 'AbortError' || (error as { code?: unknown }).code === 'CANCELLED')
  );
}
