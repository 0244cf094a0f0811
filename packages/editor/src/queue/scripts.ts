/**
 * The Lua scripts that change a run's record atomically. Every script takes the same keys (see
 * {@link scriptKeys}) and the run id as ARGV[1]. A worker may write a run only while it holds the run's
 * claim (a token with a time to live that it keeps renewing): a worker that was thought dead, and whose run
 * another worker took over, can no longer change it, commit outputs for it, or finish it.
 */
import type { QueueKeys } from './keys.js';

/** KEYS of every script, in order. */
export function scriptKeys(keys: QueueKeys, id: string): string[] {
  return [keys.run(id), keys.claim(id), keys.runs, keys.finished, keys.changes, keys.seq, keys.fair];
}

const PRELUDE = `
local function changed()
  local seq = redis.call('INCR', KEYS[6])
  redis.call('ZADD', KEYS[5], seq, ARGV[1])
  redis.call('HSET', KEYS[1], 'ver', seq)
  return seq
end
local function terminal(status)
  return status == 'done' or status == 'error' or status == 'cancelled'
end
-- Whether \`token\` holds the claim. A claim that expired while its worker kept running (a Redis restart, a
-- long pause) is taken back, provided nobody else claimed the run in between.
local function holds(token, ttl)
  local holder = redis.call('GET', KEYS[2])
  if holder then return holder == token end
  if redis.call('HGET', KEYS[1], 'status') == 'running' and redis.call('HGET', KEYS[1], 'token') == token then
    redis.call('SET', KEYS[2], token, 'PX', ttl)
    return true
  end
  return false
end
`;

/** Script sources by command name. */
export const SCRIPTS = {
  /** ARGV: id, doc, state, client, priority, front (1/0), now → {1, round, base, seq} or {0} if it exists. */
  kgSubmit: `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local p = ARGV[5]
local round = 0
if ARGV[6] ~= '1' then
  local v = tonumber(redis.call('HGET', KEYS[7], 'v:' .. p) or '0')
  local last = tonumber(redis.call('HGET', KEYS[7], 'c:' .. p .. ':' .. ARGV[4]) or '0')
  round = math.max(last, v) + 1
  redis.call('HSET', KEYS[7], 'c:' .. p .. ':' .. ARGV[4], round)
  if round > tonumber(redis.call('HGET', KEYS[7], 'top:' .. p) or '0') then
    redis.call('HSET', KEYS[7], 'top:' .. p, round)
  end
end
local base = tonumber(redis.call('HGET', KEYS[7], 'base:' .. p) or '0')
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'state', ARGV[3], 'status', 'queued', 'round', round,
  'priority', p, 'attempt', 0, 'createdAt', ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[1])
local seq = changed()
return {1, round, base, seq}
`,
  /**
   * ARGV: id, token, worker (JSON), ttl, now, maxAttempts →
   * {'ok', attempt, doc, state, committed} | {'busy', pttl} | {'finished'} | {'missing'} | {'cancel'} | {'exhausted'}
   */
  kgClaim: `${PRELUDE}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if terminal(status) then return {'finished'} end
local holder = redis.call('GET', KEYS[2])
if holder then return {'busy', tostring(redis.call('PTTL', KEYS[2]))} end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return {'cancel'} end
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
if attempt >= tonumber(ARGV[6]) then return {'exhausted'} end
attempt = attempt + 1
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'running', 'attempt', attempt, 'token', ARGV[2], 'worker', ARGV[3],
  'startedAt', ARGV[5])
local p = redis.call('HGET', KEYS[1], 'priority')
local round = tonumber(redis.call('HGET', KEYS[1], 'round') or '0')
if round > 0 and round > tonumber(redis.call('HGET', KEYS[7], 'v:' .. p) or '0') then
  redis.call('HSET', KEYS[7], 'v:' .. p, round)
end
changed()
return {'ok', tostring(attempt), redis.call('HGET', KEYS[1], 'doc'), redis.call('HGET', KEYS[1], 'state'),
  redis.call('HGET', KEYS[1], 'committed') or ''}
`,
  /** ARGV: id, token, ttl → {'ok', cancelRequested} | {'lost'} */
  kgRenew: `${PRELUDE}
if holds(ARGV[2], ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return {'ok', redis.call('HGET', KEYS[1], 'cancel') or '0'}
end
return {'lost'}
`,
  /** ARGV: id, token, ttl, state → 'ok' | 'lost' */
  kgUpdate: `${PRELUDE}
if not holds(ARGV[2], ARGV[3]) then return 'lost' end
redis.call('HSET', KEYS[1], 'state', ARGV[4])
changed()
return 'ok'
`,
  /** ARGV: id, token, ttl, state, status, now → 'ok' | 'lost' */
  kgFinish: `${PRELUDE}
if not holds(ARGV[2], ARGV[3]) then return 'lost' end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'status', ARGV[5], 'endedAt', ARGV[6])
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
changed()
return 'ok'
`,
  /** ARGV: id, token, ttl, state → 'ok' | 'lost'. The run waits for another attempt. */
  kgRelease: `${PRELUDE}
if not holds(ARGV[2], ARGV[3]) then return 'lost' end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'status', 'queued')
changed()
return 'ok'
`,
  /** ARGV: id, state, status, now → 'ok' | 'finished' | 'busy' | 'missing'. Ends a run nobody runs. */
  kgSettle: `${PRELUDE}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if terminal(status) then return 'finished' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'busy' end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'status', ARGV[3], 'endedAt', ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
changed()
return 'ok'
`,
  /**
   * ARGV: id, cancelled state, now → 'cancelled' (nobody ran it: ended now) | 'signalled' (its worker is
   * told) | 'finished' | 'missing'
   */
  kgCancel: `${PRELUDE}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if terminal(status) then return 'finished' end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'status', 'cancelled', 'endedAt', ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  changed()
  return 'cancelled'
end
redis.call('HSET', KEYS[1], 'cancel', '1')
changed()
return 'signalled'
`,
  /** ARGV: id, token, ttl, committed (JSON) → {'ok'} | {'committed', json} | {'lost'} */
  kgCommit: `${PRELUDE}
local committed = redis.call('HGET', KEYS[1], 'committed')
if committed then return {'committed', committed} end
if not holds(ARGV[2], ARGV[3]) then return {'lost'} end
redis.call('HSET', KEYS[1], 'committed', ARGV[4])
return {'ok'}
`,
  /** ARGV: id → 1. Forgets a run (retention). */
  kgForget: `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
`,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
