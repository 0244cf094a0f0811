/**
 * What the server's routes need from "where runs go": the in-process queue of `kinegraph serve`
 * (`server/runs.ts`) and the Redis queue of `kinegraph serve --queue` (`queue/server-backend.ts`) both
 * implement {@link RunBackend}, so the HTTP and WebSocket API is the same in both modes.
 */
import type { RunSnapshot, RunWorker, ServerMessage, WirePreview } from '../shared/protocol.js';

/** How a run is queued (`POST /api/runs` body fields or query parameters). */
export interface SubmitOptions {
  /** 1 (first) to 10 (last); default 5. */
  readonly priority?: number;
  /** Put the run before every other waiting run. */
  readonly front?: boolean;
  /** Who submits it; runs of different clients at one priority take turns. Default: the remote address. */
  readonly client?: string;
  /** The earlier run this one re-runs (a routing hint; found by the graph's cache keys when absent). */
  readonly parent?: string;
  /** Size of the JSON the workflow came as (counted against the queue's limits). */
  readonly bytes?: number;
  /** A smaller memory budget than the default for this run, bytes. */
  readonly memoryBudgetBytes?: number;
  /**
   * A partial run: only these nodes and what they need (ComfyUI's `partial_execution_targets`; a subgraph
   * instance's id stands for its nodes).
   */
  readonly targets?: readonly string[];
}

/** The job statuses of `GET /api/jobs?status=`: a run's status, with `queued` called `pending`. */
export type JobStatus = 'pending' | 'running' | 'done' | 'error' | 'cancelled';

/** `GET /api/jobs` query. */
export interface JobQuery {
  readonly status?: readonly JobStatus[];
  readonly client?: string;
  readonly limit: number;
  readonly offset: number;
}

/** One job as `GET /api/jobs` lists it: a run without its per-node detail. */
export interface JobSummary {
  id: string;
  status: JobStatus;
  name?: string;
  priority: number;
  front?: boolean;
  client?: string;
  /** For pending jobs: how many jobs run before this one (0 = next). */
  position?: number;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  ms?: number;
  worker?: RunWorker;
  attempt?: number;
  parent?: string;
  files: string[];
  error?: RunSnapshot['error'];
}

/** A page of `GET /api/jobs`. */
export interface JobPage {
  jobs: JobSummary[];
  /** How many jobs match the query in all. */
  total: number;
  limit: number;
  offset: number;
}

/** `GET /api/jobs/:id`: the summary, the run's per-node state, and the workflow it runs. */
export interface JobDetail extends JobSummary {
  run: RunSnapshot;
  workflow: unknown;
}

/** A process that runs jobs, as `GET /api/workers` lists it. */
export interface WorkerInfo extends RunWorker {
  pid?: number;
  concurrency: number;
  /** Runs it is executing now. */
  running: string[];
  /** Plugin packages it has loaded (`name@version`). */
  packages: string[];
  startedAt: number;
  lastSeen: number;
}

/** Where runs are queued, executed and remembered. */
export interface RunBackend {
  /**
   * Throws 503 `SERVER_CLOSING`, or 429 `QUEUE_FULL` when no more runs (or `bytes` more workflow JSON) may
   * wait; the server asks before it reads a body.
   */
  checkRoom(bytes?: number): void;
  /** Validates and queues a workflow. Throws a 400 `WORKFLOW_INVALID` listing every problem. */
  submit(document: unknown, options?: SubmitOptions): RunSnapshot | Promise<RunSnapshot>;
  /** A run's current state; 404 `RUN_NOT_FOUND`. */
  get(id: string): RunSnapshot;
  /** Every remembered run, oldest first. */
  list(): RunSnapshot[];
  /** Cancels a queued or running run; 409 `RUN_FINISHED` once it has ended. */
  cancel(id: string): RunSnapshot | Promise<RunSnapshot>;
  /** Listens to every run's changes; returns the unsubscribe function. */
  subscribe(listener: (message: ServerMessage) => void): () => void;
  /** A page of jobs, filtered by status and client. */
  jobs(query: JobQuery): JobPage;
  /** One job with its workflow; 404 `RUN_NOT_FOUND`. */
  job(id: string): JobDetail | Promise<JobDetail>;
  /** The processes that run jobs. */
  workers(): WorkerInfo[] | Promise<WorkerInfo[]>;
  /**
   * The runs as the live snapshot sends them, when lighter than {@link list} (finished runs without their
   * previews). Default: `list()`.
   */
  overview?(): RunSnapshot[];
  /** Ids of the waiting runs in the order they will start, when the backend knows it at once. */
  queue?(): string[];
  /** Moves a waiting run to the front of the queue (the editor's "run next"); 409 `RUN_NOT_QUEUED`. */
  runNext?(id: string): RunSnapshot;
  /** A run's last preview, kept as its thumbnail. */
  thumbnail?(id: string): WirePreview | undefined;
  /** What `GET /api/health` adds about the queue (queue mode: whether Redis answers, how many workers live). */
  health?(): Promise<Record<string, unknown>>;
  /** Stops taking runs and lets go of what it holds. */
  close(): Promise<void>;
}
