/**
 * The queue's limits and timings, in one place (documented in packages/editor/README.md and
 * docs/scaling.md). Transfers between a worker and the server are bounded in size and in time, so a broken
 * or hostile peer can neither fill a disk nor hold a run forever.
 */

const MB = 1024 * 1024;

/** What a run may read: the files its params name, fetched by the worker from the server. */
export const INPUT_LIMITS = {
  /** Files per run. */
  files: 256,
  /** One input file (the server's own upload limit is 50 MB). */
  fileBytes: 512 * MB,
  /** All input files of one run. */
  totalBytes: 1024 * MB,
};

/** What a run may write: its output files, uploaded by the worker to the server. */
export const OUTPUT_LIMITS = {
  /** Files per run. */
  files: 1000,
  /** One output file. */
  fileBytes: 2048 * MB,
  /** All output files of one run. */
  totalBytes: 8192 * MB,
};

/** Time limits of one transfer (download of an input, upload of an output, a commit). */
export const TRANSFER_LIMITS = {
  /** A transfer that moves no byte for this long is aborted. */
  idleMs: 60_000,
  /** A transfer that has not finished after this long is aborted, however it progresses. */
  totalMs: 30 * 60_000,
  /** How long a worker keeps retrying a transfer while the server is unreachable (it restarts, say). */
  retryForMs: 10 * 60_000,
};

/** Timings of the queue (milliseconds); workers' lock and claim times can be changed for tests. */
export const QUEUE_TIMINGS = {
  /** A worker's claim on a run (and BullMQ's lock on its ticket) lives this long unless renewed. */
  claimMs: 30_000,
  /** How often workers report that they are alive (and how busy they are). */
  heartbeatMs: 2_000,
  /** A worker not heard of for this long is gone. */
  workerGoneMs: 10_000,
  /** How long a re-run offered to its parent's worker waits before any worker may take it. */
  routeGraceMs: 2_000,
  /** The server's lock on its queue (one server per queue) lives this long unless renewed. */
  serverLockMs: 6_000,
  /** How often the server looks for runs that changed (the change feed) when pub/sub is quiet. */
  changePollMs: 250,
  /** How often the server repairs what it finds (lost tickets, retention). */
  reconcileMs: 5_000,
  /** Runs a worker died under this many times are not retried again (error `WORKER_LOST`). */
  maxAttempts: 3,
  /** A worker writes a run's state changes to its record within this time (live events go out at once). */
  statePersistMs: 250,
  /** ... and a running node's progress within this time. */
  progressPersistMs: 1_000,
};

/**
 * What `kinegraph serve --queue` changes in the server's limits (unless given): a request may take as long
 * as a transfer may (a worker uploading a large output), and the workers' connections come on top of the
 * clients'. The idle timeout (a connection moving nothing for 60 s) still applies to every request.
 */
export const QUEUE_SERVER_LIMITS = {
  requestTimeoutMs: TRANSFER_LIMITS.totalMs,
  connections: 1024,
  queuedRuns: 10_000,
  queuedBytes: 1024 * MB,
  finishedRuns: 1_000,
};

/** Largest live message (an event with its preview): larger previews are left out. */
export const LIVE_MESSAGE_BYTES = 2 * MB;

/** Test hooks: `KINEGRAPH_QUEUE_CLAIM_MS` shortens claims and locks so worker deaths are noticed fast. */
export function claimMs(): number {
  const value = Number(process.env.KINEGRAPH_QUEUE_CLAIM_MS);
  return Number.isFinite(value) && value >= 500 ? value : QUEUE_TIMINGS.claimMs;
}
