/**
 * Connecting to the queue's Redis: the `--queue` URL, the connection settings of each role, and the check
 * that Redis is configured the way a queue needs it (BullMQ's production guide: `maxmemory-policy
 * noeviction`, so Redis never silently drops a queued job; AOF persistence, so a restart loses nothing).
 */
import { KinegraphError } from '@kinegraph/core';
import { Redis, type RedisOptions } from 'ioredis';
import { QUEUE_NAME } from './keys.js';

/** A parsed `--queue` URL. */
export interface QueueLocation {
  /** The Redis URL without Kinegraph's own parameters (may hold a password: never print it). */
  readonly url: string;
  /** `host:port/db`, safe to print. */
  readonly display: string;
  /** The queue's name (`?name=`, default `kinegraph`): several deployments can share one Redis. */
  readonly name: string;
}

/** Parses `redis://[user:password@]host[:port][/db][?name=queue]` (or `rediss://` for TLS). */
export function parseQueueUrl(text: string): QueueLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(text, 'it is not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalid(text, 'it is not redis:// or rediss://');
  if (!url.hostname) throw invalid(text, 'it has no host');
  const name = url.searchParams.get('name') ?? 'kinegraph';
  if (!QUEUE_NAME.test(name)) throw invalid(text, `the queue name "${name}" is not 1-64 of A-Z a-z 0-9 _ -`);
  url.searchParams.delete('name');
  const db = url.pathname.replace(/^\//, '') || '0';
  if (!/^\d+$/.test(db)) throw invalid(text, `"/${db}" is not a database number`);
  return {
    url: url.toString(),
    display: `${url.protocol}//${url.hostname}:${url.port || 6379}/${db}`,
    name,
  };
}

function invalid(text: string, why: string): KinegraphError {
  const shown = text.replace(/\/\/[^@/]*@/, '//***@');
  return new KinegraphError('QUEUE_URL_INVALID', `--queue ${shown} is not a usable Redis URL: ${why}.`, {
    hint: 'Give redis://host:6379 (redis://:password@host:6379/0 with a password, rediss:// for TLS, ?name=<queue> to share one Redis).',
  });
}

/**
 * A connection for one role. `failFast` (the server's): commands fail at once while Redis is unreachable,
 * so an HTTP request answers 503 instead of hanging; otherwise (workers) commands wait for the reconnect.
 */
export function connect(location: QueueLocation, options: { failFast: boolean; name: string }): Redis {
  const settings: RedisOptions = {
    connectionName: options.name,
    lazyConnect: true,
    // BullMQ requires this on the connections it blocks on; ours follow it for one behaviour.
    maxRetriesPerRequest: options.failFast ? 0 : null,
    enableOfflineQueue: !options.failFast,
    // Reconnect forever, backing off to 2 s: a queue outlives Redis restarts.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  return new Redis(location.url, settings);
}

/** What {@link checkRedis} found that deserves a warning. */
export interface RedisCheck {
  readonly version: string;
  readonly warnings: string[];
}

/**
 * Refuses a Redis that could evict keys (code `REDIS_EVICTION_POLICY`) or is older than 6.2
 * (`REDIS_TOO_OLD`); warns when it does not persist to AOF.
 */
export async function checkRedis(redis: Redis): Promise<RedisCheck> {
  const info = await redis.info('server');
  const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2))
    throw new KinegraphError(
      'REDIS_TOO_OLD',
      `Redis ${version} is too old for the queue (BullMQ needs 6.2 or later).`,
      {
        hint: 'Install Redis 7 (Debian 12: apt-get install redis-server).',
      },
    );
  const warnings: string[] = [];
  let policy: string | undefined;
  let appendonly: string | undefined;
  try {
    policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
    appendonly = ((await redis.config('GET', 'appendonly')) as string[])[1];
  } catch {
    warnings.push(
      'Could not read the Redis configuration (CONFIG is disabled): make sure maxmemory-policy is noeviction and appendonly is yes.',
    );
  }
  if (policy !== undefined && policy !== 'noeviction')
    throw new KinegraphError(
      'REDIS_EVICTION_POLICY',
      `Redis evicts keys when full (maxmemory-policy ${policy}): it could silently drop queued runs.`,
      { hint: 'Set maxmemory-policy noeviction in redis.conf (or: redis-cli CONFIG SET maxmemory-policy noeviction).' },
    );
  if (appendonly === 'no')
    warnings.push(
      'Redis does not write an append-only file (appendonly no): runs queued since its last snapshot are lost if Redis restarts. Set appendonly yes (and appendfsync always to lose nothing acknowledged).',
    );
  return { version, warnings };
}
