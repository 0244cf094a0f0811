/**
 * A ticket is the BullMQ job that brings a run to a worker. It carries only the run's id and the node types
 * it needs (so a worker without a plugin can pass it on before claiming anything); the run itself lives in
 * its record. BullMQ orders tickets (priority and fair share, the front first), hands each to one worker,
 * and gives the ticket of a worker that died to another (stalled-job detection).
 */
import type { JobsOptions } from 'bullmq';

export interface TicketData {
  readonly runId: string;
  /** Node type → the package (and version) that provides it. */
  readonly requires: Record<string, { package: string; version?: string }>;
}

/** Failed tickets kept for inspection (an infrastructure failure that outlived BullMQ's retries). */
const KEEP_FAILED_TICKETS = 1000;

/** BullMQ options of a ticket. */
export function ticketOptions(
  jobId: string,
  order: { front?: boolean; priority?: number; delay?: number },
): JobsOptions {
  return {
    jobId,
    ...(order.front ? { lifo: true } : { priority: order.priority ?? 0 }),
    ...(order.delay ? { delay: order.delay } : {}),
    // A ticket is done with when its run has ended: the record, not the ticket, is the history.
    removeOnComplete: true,
    removeOnFail: { count: KEEP_FAILED_TICKETS },
    // Retries for failures outside the workflow (the server unreachable for outputs past the retry time);
    // a workflow's own errors end the run instead.
    attempts: 3,
    backoff: { type: 'exponential', delay: 2_000 },
  };
}
