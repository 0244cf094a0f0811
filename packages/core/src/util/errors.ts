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

/**
 * An error as plain data: the one form errors take in run events, `--json` output, the server's responses
 * and across the inference worker's boundary.
 */
export interface SerializedError {
  /** Stable, machine-readable code. */
  code: string;
  message: string;
  /** The workflow node the error concerns, if any. */
  nodeId?: string;
  /** What the user can do about it. */
  hint?: string;
  /**
   * Structured context (JSON-able) that tools may show, never needed to understand the message. Only
   * where asked for (see {@link SerializeOptions.details}): run events do not carry it.
   */
  details?: Record<string, unknown>;
}

/** How {@link serializeError} fills in what an error does not say itself. */
export interface SerializeOptions {
  /** The node to name when the error names none. */
  readonly nodeId?: string;
  /** The code of an error that has none of its own. Default: `CANCELLED` for an abort, else `NODE_FAILED`. */
  readonly fallbackCode?: string;
  /** Keep the error's `details` (the tensor layer's structured context). Default false. */
  readonly details?: boolean;
}

/**
 * Turns anything thrown into plain data, keeping the error's own code, node, hint (and, when asked, details).
 * A string as second argument is the node to name when the error names none.
 */
export function serializeError(error: unknown, options: SerializeOptions | string = {}): SerializedError {
  const {
    nodeId: fallbackNodeId,
    fallbackCode,
    details: withDetails,
  } = typeof options === 'string' ? { nodeId: options, fallbackCode: undefined, details: false } : options;
  if (!(error instanceof Error)) {
    const out: SerializedError = { code: fallbackCode ?? 'NODE_FAILED', message: String(error) };
    if (fallbackNodeId !== undefined) out.nodeId = fallbackNodeId;
    return out;
  }
  const e = error as Error & { code?: unknown; nodeId?: unknown; hint?: unknown; details?: unknown };
  const out: SerializedError = {
    code:
      typeof e.code === 'string' ? e.code : (fallbackCode ?? (e.name === 'AbortError' ? 'CANCELLED' : 'NODE_FAILED')),
    message: e.message || String(error),
  };
  const nodeId = typeof e.nodeId === 'string' ? e.nodeId : fallbackNodeId;
  if (nodeId !== undefined) out.nodeId = nodeId;
  if (typeof e.hint === 'string') out.hint = e.hint;
  if (withDetails && typeof e.details === 'object' && e.details !== null) {
    out.details = { ...(e.details as Record<string, unknown>) };
  }
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
