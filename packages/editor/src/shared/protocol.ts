/**
 * The wire format between the editor's server and its clients (the web app, scripts, tests). Plain JSON:
 * preview bytes travel as base64 and output files as `/api/outputs/...` URLs, never as server paths.
 */
import type { RunEvent, SerializedError, ValidationIssue } from '@kinegraph/core';

/** A preview image as it travels to clients. */
export interface WirePreview {
  mime: string;
  /** Base64 of the image bytes. */
  data: string;
  width: number;
  height: number;
}

/** A scheduler event as it travels to clients: preview bytes in base64, file paths as output URLs. */
export type WireEvent = DistributeWire<RunEvent>;
// Distributes over the union so each event keeps its own discriminated shape.
type DistributeWire<E> = E extends { preview?: unknown } ? Omit<E, 'preview'> & { preview?: WirePreview } : E;

/** Where a run is in its life. */
export type RunStatus = 'queued' | 'running' | 'done' | 'error' | 'cancelled';

/**
 * Where one node of a run is. `pending` nodes have not started yet; `skipped` ones do not run (bypassed,
 * muted, or needing a muted node).
 */
export type NodeStatus = 'pending' | 'running' | 'cached' | 'done' | 'error' | 'skipped';

/** The state of one node in a run, as far as the events so far tell. */
export interface NodeRunState {
  status: NodeStatus;
  /** 0..1 */
  progress: number;
  message?: string;
  /** The latest preview only: a reconnecting client sees what the node shows now, not its history. */
  preview?: WirePreview;
  error?: SerializedError;
  warnings?: { code: string; message: string }[];
  ms?: number;
  /** URLs of files this node wrote (from its outputs). */
  files?: string[];
}

/** Everything a client needs to show a run, including after a reconnect. */
export interface RunSnapshot {
  id: string;
  status: RunStatus;
  /** The workflow's `name`, when it has one. */
  name?: string;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  /** Node ids in execution order (known once the run starts). */
  order: string[];
  nodes: Record<string, NodeRunState>;
  /** URLs of every output file, once the run is done. */
  files: string[];
  executed: string[];
  cached: string[];
  error?: SerializedError & { nodeId?: string };
  ms?: number;
  /** Queue order: 1 (first) to 10 (last); runs of one priority take turns between clients. Default 5. */
  priority?: number;
  /** Queued at the front: runs before every other waiting run. */
  front?: boolean;
  /** Who submitted the run (runs of different clients take turns). */
  client?: string;
  /** The process and device that ran (or runs) it, once started. */
  worker?: RunWorker;
  /** How many times a worker has started it (more than 1 after a worker died mid-run). */
  attempt?: number;
  /** The earlier run this one re-runs, whose worker it was routed to (queue mode). */
  parent?: string;
  /** For a partial run ("run to this node"): the nodes it was asked to compute. */
  targets?: string[];
  /** URL of a small picture of the run (its last preview), when the server keeps one. */
  thumbnail?: string;
}

/** The process that ran a run: `embedded` in the server's own process, else a `kinegraph worker`. */
export interface RunWorker {
  id: string;
  name: string;
  host: string;
  /** `cpu` or `webgpu`: where its models and tensors lived. */
  device: string;
}

/** Messages the server pushes over the WebSocket and `GET /api/runs/:id/events` (SSE). */
export type ServerMessage =
  /**
   * First message after connecting: the current state of every run the server remembers (oldest first;
   * finished runs may come without their nodes' previews, which `GET /api/runs/:id` has), the ids of the
   * waiting runs in the order they will start (when the server knows it), and what this server supports
   * beyond the basics (`run-next`: moving a waiting run to the front).
   */
  | { kind: 'snapshot'; runs: RunSnapshot[]; queue?: string[]; features?: string[] }
  /** A run was queued, started or ended: its whole state (small: one entry per node). */
  | { kind: 'run'; run: RunSnapshot }
  /** One scheduler event of a run. */
  | { kind: 'event'; runId: string; event: WireEvent }
  /** The waiting runs' order changed (one was queued, started, cancelled or moved). */
  | { kind: 'queue'; queue: string[] }
  /** The server no longer remembers these runs (the oldest finished ones, beyond its history limit). */
  | { kind: 'forget'; ids: string[] };

/** The body of every 4xx/5xx answer. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
  /** For `WORKFLOW_INVALID`: every validation problem. */
  issues?: ValidationIssue[];
}

/** `GET /api/workflows` item. */
export interface ExampleWorkflow {
  /** File name without `.json`. */
  id: string;
  name: string;
  description?: string;
  workflow: unknown;
}

/** `POST /api/uploads` answer. */
export interface UploadResult {
  /** File name under `inputs/`: what a Load Image/Video/Mask node's `path` param takes. */
  name: string;
  /** Same as `name`; kept apart so a later server can store uploads in sub-folders. */
  path: string;
  mime: string;
  size: number;
  kind: 'image' | 'video' | 'mask';
}
