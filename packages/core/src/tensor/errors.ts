/**
 * Errors raised by the tensor store, the ONNX backend and the graph builder.
 *
 * Every error carries a stable string `code` so callers (the scheduler, the CLI, tests) can branch on it
 * without parsing messages. Errors thrown inside the inference worker are serialised with
 * {@link serializeTensorError} and rebuilt on the main thread by {@link rehydrateError} into the same class.
 */
import { type SerializedError, serializeError } from '../util/errors.js';
import type { DeviceName, DeviceRequest } from './types.js';

/** Stable error codes of the tensor layer. */
export type TensorErrorCode =
  | 'DEVICE_UNAVAILABLE'
  | 'WORKER_CRASHED'
  | 'WORKER_NOT_FOUND'
  | 'STORE_CLOSED'
  | 'ABORTED'
  | 'TENSOR_RELEASED'
  | 'UNKNOWN_MODEL'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED_DTYPE'
  | 'UNKNOWN_INITIALIZER'
  | 'INITIALIZER_MISMATCH'
  | 'EXTERNAL_DATA_UNSUPPORTED'
  | 'GRAPH_APPEND_FAILED'
  | 'MODEL_LOAD_FAILED'
  | 'RUN_FAILED'
  | 'INTERNAL';

/** Base class of every coded error of the tensor layer. */
export class TensorError extends Error {
  /** Stable machine-readable code. */
  readonly code: TensorErrorCode;
  /** Structured context (JSON-able) that tools may show; never needed to understand the message. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: TensorErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TensorError';
    this.code = code;
    this.details = details;
  }
}

/** The requested device cannot be used here; `available` lists the devices that can. */
export class DeviceUnavailableError extends TensorError {
  readonly requested: DeviceRequest;
  readonly available: readonly DeviceName[];
  /** What to do instead, with the devices that work here. */
  readonly hint: string;

  constructor(requested: DeviceRequest, available: readonly DeviceName[], why: string) {
    super(
      'DEVICE_UNAVAILABLE',
      `Device '${requested}' is not available (${why}). Available devices: ${available.join(', ')}.`,
      { requested, available: [...available], why },
    );
    this.name = 'DeviceUnavailableError';
    this.requested = requested;
    this.available = available;
    this.hint = `Choose one of: ${available.join(', ')} (--device ${available[0] ?? 'cpu'}), or auto to take the best one available.`;
  }
}

/** The inference worker died; every pending request fails with this. Create a new store to continue. */
export class WorkerCrashedError extends TensorError {
  constructor(why: string) {
    super('WORKER_CRASHED', `The inference worker crashed (${why}); create a new tensor store to continue.`, { why });
    this.name = 'WorkerCrashedError';
  }
}

/** The store was closed; its handles are gone. */
export class StoreClosedError extends TensorError {
  constructor() {
    super('STORE_CLOSED', 'The tensor store is closed.');
    this.name = 'StoreClosedError';
  }
}

/**
 * A run was cancelled through its AbortSignal. `name` is `'AbortError'`, matching the DOM convention that
 * fetch, timers and streams use, so generic abort handling recognises it.
 */
export class RunAbortedError extends TensorError {
  constructor(message = 'The run was aborted.') {
    super('ABORTED', message);
    this.name = 'AbortError';
  }
}

/**
 * An error as it crosses the inference worker's boundary: a tensor-layer error keeps its code and details;
 * anything else (a bug, or a library's own error) is reported under `fallback`, so the main thread only ever
 * sees {@link TensorErrorCode}s.
 */
export function serializeTensorError(err: unknown, fallback: TensorErrorCode = 'INTERNAL'): SerializedError {
  const coded =
    err instanceof TensorError ? err : new TensorError(fallback, err instanceof Error ? err.message : String(err));
  return serializeError(coded, { details: true });
}

/** Rebuilds a {@link SerializedError} into the matching error class (so `instanceof` and `.code` work). */
export function rehydrateError(s: SerializedError): TensorError {
  const d = s.details ?? {};
  switch (s.code) {
    case 'DEVICE_UNAVAILABLE': {
      const err = new DeviceUnavailableError(
        (d.requested as DeviceRequest | undefined) ?? 'auto',
        (d.available as DeviceName[] | undefined) ?? ['cpu'],
        String(d.why ?? 'unknown reason'),
      );
      err.message = s.message;
      return err;
    }
    case 'WORKER_CRASHED':
      return new WorkerCrashedError(String(d.why ?? s.message));
    case 'STORE_CLOSED':
      return new StoreClosedError();
    case 'ABORTED':
      return new RunAbortedError(s.message);
    default:
      // Only TensorErrorCodes are sent (see serializeTensorError).
      return new TensorError(s.code as TensorErrorCode, s.message, s.details);
  }
}
