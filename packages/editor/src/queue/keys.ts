/**
 * Where a queue keeps its state in Redis. Every key of one queue shares the hash tag `{kg:<name>}`, so the
 * scripts that touch several keys stay valid on a Redis Cluster (all of a queue lives on one shard).
 */

/** The keys and channels of the queue named `name`. */
export interface QueueKeys {
  /** BullMQ's prefix; BullMQ's own keys are `<prefix>:tickets:*`. */
  readonly bullPrefix: string;
  /** BullMQ queue name of the tickets workers take. */
  readonly tickets: string;
  /** HASH per run: `doc`, `state`, `status`, `attempt`, `token`, `worker`, `round`, `priority`, `committed`... */
  run(id: string): string;
  /** STRING per running run: the claim token of the worker executing it, with a time to live. */
  claim(id: string): string;
  /** ZSET of every remembered run by creation time. */
  readonly runs: string;
  /** ZSET of finished runs by end time (retention deletes the oldest). */
  readonly finished: string;
  /** ZSET of runs by the sequence number of their last change: the server's change feed. */
  readonly changes: string;
  /** Counter behind `changes`. */
  readonly seq: string;
  /** HASH of fair-share rounds: `v:<priority>`, `c:<priority>:<client>`, `top:<priority>`, `base:<priority>`. */
  readonly fair: string;
  /** STRING per worker process (JSON, expires unless refreshed). */
  worker(id: string): string;
  /** SET of worker ids (stale entries are removed by whoever lists them). */
  readonly workers: string;
  /** STRING held by the one server of this queue. */
  readonly server: string;
  /** Pub/sub: workers' live run events to the server. */
  readonly live: string;
  /** Pub/sub: the server's cancels and offers to workers. */
  readonly control: string;
}

/** Queue names: what `?name=` in the `--queue` URL may be. */
export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function queueKeys(name: string): QueueKeys {
  const tag = `{kg:${name}}`;
  return {
    bullPrefix: tag,
    tickets: 'tickets',
    run: (id) => `${tag}:run:${id}`,
    claim: (id) => `${tag}:claim:${id}`,
    runs: `${tag}:runs`,
    finished: `${tag}:finished`,
    changes: `${tag}:changes`,
    seq: `${tag}:seq`,
    fair: `${tag}:fair`,
    worker: (id) => `${tag}:worker:${id}`,
    workers: `${tag}:workers`,
    server: `${tag}:server`,
    live: `${tag}:live`,
    control: `${tag}:control`,
  };
}
