/**
 * One server per queue: workers send a run's outputs to the server named by their `--server`, so two
 * servers sharing a queue would each miss the other's outputs. The server holds a Redis key with a time to
 * live and renews it; a second server is refused (`QUEUE_SERVER_RUNNING`). A server restarting after a
 * crash takes the lock over at once when the old process was on this machine, else waits for it to expire.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { KinegraphError } from '@kinegraph/core';
import type { Redis } from 'ioredis';
import type { QueueKeys } from './keys.js';
import { QUEUE_TIMINGS } from './limits.js';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const TAKE_OVER = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return 0`;

/**
 * What a lock value says about its holder: a server process of this machine that is gone or still running,
 * or one elsewhere (`unknown`: only the lock's expiry tells).
 */
function holderState(holder: string): 'gone' | 'running' | 'unknown' {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid)) return 'unknown';
  // Our own pid: an earlier incarnation of this process id (a container restarted), not us.
  if (pid === process.pid) return 'gone';
  try {
    process.kill(pid, 0);
    return 'running';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'running';
  }
}

export class ServerLock {
  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly value: string,
    private readonly log: (message: string) => void,
  ) {}

  static async acquire(redis: Redis, keys: QueueKeys, log: (message: string) => void): Promise<ServerLock> {
    const value = `${hostname()}:${process.pid}:${randomUUID()}`;
    const ttl = QUEUE_TIMINGS.serverLockMs;
    const deadline = Date.now() + ttl + 1_000;
    let told = false;
    for (;;) {
      if ((await redis.set(keys.server, value, 'PX', ttl, 'NX')) === 'OK') break;
      const holder = await redis.get(keys.server);
      const state = holder ? holderState(holder) : 'unknown';
      // A server of this machine that crashed: no need to wait for its lock to expire.
      if (holder && state === 'gone' && (await redis.eval(TAKE_OVER, 1, keys.server, holder, value, ttl)) === 'OK')
        break;
      if (state === 'running' || Date.now() > deadline)
        throw new KinegraphError('QUEUE_SERVER_RUNNING', `Another server (${holder}) serves this queue.`, {
          hint: 'Run one `kinegraph serve --queue` per queue, or give this one its own queue with ?name=<queue> in the URL.',
        });
      if (!told) log(`kinegraph serve: waiting for the queue's server lock (held by ${holder})\u2026`);
      told = true;
      await new Promise((r) => setTimeout(r, 250));
    }
    const lock = new ServerLock(redis, keys.server, value, log);
    const timer = setInterval(() => void lock.renew().catch(() => undefined), ttl / 3);
    timer.unref();
    lock.#timer = timer;
    return lock;
  }

  #timer: NodeJS.Timeout | undefined;
  #lost = false;

  /** Keeps the lock; says so once if another server took it (after this one was unreachable too long). */
  async renew(): Promise<void> {
    const kept = (await this.redis.eval(RENEW, 1, this.key, this.value, QUEUE_TIMINGS.serverLockMs)) === 1;
    if (!kept) {
      // Taken back if free (Redis restarted without it); another holder means two servers.
      const taken = (await this.redis.set(this.key, this.value, 'PX', QUEUE_TIMINGS.serverLockMs, 'NX')) === 'OK';
      if (!taken && !this.#lost)
        this.log('kinegraph serve: warning: another server took this queue over; stop one of them.');
      this.#lost = !taken;
    }
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.redis.eval(RELEASE, 1, this.key, this.value);
  }
}
