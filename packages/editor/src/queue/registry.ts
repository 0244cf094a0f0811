/**
 * Which workers are alive and how busy they are: each worker rewrites its entry every few seconds (and at
 * once when it starts or ends a run), with a time to live, so a dead worker disappears by itself.
 */
import type { Redis } from 'ioredis';
import type { WorkerInfo } from './backend.js';
import type { QueueKeys } from './keys.js';
import { QUEUE_TIMINGS } from './limits.js';

/** Writes a worker's entry. */
export async function announce(redis: Redis, keys: QueueKeys, info: WorkerInfo): Promise<void> {
  await redis
    .multi()
    .set(keys.worker(info.id), JSON.stringify({ ...info, lastSeen: Date.now() }), 'PX', QUEUE_TIMINGS.workerGoneMs)
    .sadd(keys.workers, info.id)
    .exec();
}

/** Removes a worker's entry (it is stopping). */
export async function retire(redis: Redis, keys: QueueKeys, id: string): Promise<void> {
  await redis.multi().del(keys.worker(id)).srem(keys.workers, id).exec();
}

/** Every live worker, by name; entries of workers gone are dropped from the index. */
export async function liveWorkers(redis: Redis, keys: QueueKeys): Promise<WorkerInfo[]> {
  const ids = await redis.smembers(keys.workers);
  if (!ids.length) return [];
  const values = await redis.mget(ids.map((id) => keys.worker(id)));
  const gone = ids.filter((_, i) => values[i] === null);
  if (gone.length) await redis.srem(keys.workers, ...gone);
  return values
    .flatMap((v) => (v ? [JSON.parse(v) as WorkerInfo] : []))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** One worker's entry, if it is alive. */
export async function workerInfo(redis: Redis, keys: QueueKeys, id: string): Promise<WorkerInfo | undefined> {
  const value = await redis.get(keys.worker(id));
  return value ? (JSON.parse(value) as WorkerInfo) : undefined;
}

/**
 * Whether a worker can start a run now. `hasEnded` names runs the caller knows have ended: they do not count
 * against the worker's slots. A worker announces its freed slot just after the run's end has gone out, so a
 * server that already shows the run as ended may still read it in the worker's entry for a moment; without
 * this, a re-run submitted the moment its parent ends would find the parent's worker "busy".
 */
export function isFree(info: WorkerInfo | undefined, hasEnded: (runId: string) => boolean = () => false): boolean {
  return info !== undefined && info.running.filter((id) => !hasEnded(id)).length < info.concurrency;
}
