/**
 * A run's durable record in Redis, read and changed only through the scripts of `scripts.ts`. The server
 * creates records and cancels or settles runs nobody runs; a worker claims a run and, while its claim
 * holds, updates, releases, commits and finishes it.
 */
import type { Redis } from 'ioredis';
import type { RunSnapshot, RunStatus, RunWorker } from '../shared/protocol.js';
import type { RunInputs } from './inputs.js';
import type { QueueKeys } from './keys.js';
import { SCRIPTS, type ScriptName, scriptKeys } from './scripts.js';

/** What a run needs besides its record's state: written once at submit. */
export interface RunDoc {
  /** The workflow as the server validated it (migrated, defaults filled, providing packages recorded). */
  readonly workflow: unknown;
  /** Files its params name, which the worker fetches from the server. */
  readonly inputs: RunInputs;
  /** Each node's structural cache key (type, version, params, inputs): how re-runs find their parent. */
  readonly keys: Readonly<Record<string, string>>;
  /** A smaller memory budget the client asked for; a worker runs it with the smaller of this and its own. */
  readonly memoryBudgetBytes?: number;
  /** A partial run: only these nodes and what they need. */
  readonly targets?: readonly string[];
}

/** The outputs a run committed: `files` are paths inside `outputs/<run id>/`. */
export interface Committed {
  readonly token: string;
  readonly files: readonly string[];
}

/** A run's record as the server loads it. */
export interface StoredRun {
  readonly id: string;
  readonly state: RunSnapshot;
  readonly status: RunStatus;
  readonly attempt: number;
  readonly ver: number;
  readonly round: number;
  readonly priority: number;
  readonly cancelRequested: boolean;
  readonly committed?: Committed;
}

export type ClaimResult =
  | { kind: 'ok'; attempt: number; doc: RunDoc; state: RunSnapshot; committed?: Committed }
  | { kind: 'busy'; pttl: number }
  | { kind: 'finished' | 'missing' | 'cancel' | 'exhausted' };

/** Previews are live-only: the record keeps the state, not pictures. */
export function withoutPreviews(run: RunSnapshot): RunSnapshot {
  const nodes: RunSnapshot['nodes'] = {};
  for (const [id, node] of Object.entries(run.nodes)) {
    const { preview: _preview, ...rest } = node;
    nodes[id] = rest;
  }
  return { ...run, nodes };
}

/** Typed access to the scripts on one connection. */
export class RunStore {
  constructor(
    readonly redis: Redis,
    readonly keys: QueueKeys,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua, numberOfKeys: 7 });
  }

  #call(name: ScriptName, id: string, ...args: (string | number)[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!;
    return command.call(this.redis, ...scriptKeys(this.keys, id), id, ...args);
  }

  /** Creates a queued run; returns its fair-share round and its priority's base round. */
  async submit(
    id: string,
    doc: RunDoc,
    state: RunSnapshot,
    rank: { client: string; priority: number; front: boolean },
  ): Promise<{ round: number; base: number }> {
    const reply = (await this.#call(
      'kgSubmit',
      id,
      JSON.stringify(doc),
      JSON.stringify(withoutPreviews(state)),
      rank.client,
      rank.priority,
      rank.front ? 1 : 0,
      state.createdAt,
    )) as number[];
    if (reply[0] !== 1) throw new Error(`Run ${id} exists already.`);
    return { round: reply[1]!, base: reply[2]! };
  }

  async claim(id: string, token: string, worker: RunWorker, ttlMs: number, maxAttempts: number): Promise<ClaimResult> {
    const reply = (await this.#call(
      'kgClaim',
      id,
      token,
      JSON.stringify(worker),
      ttlMs,
      Date.now(),
      maxAttempts,
    )) as string[];
    const kind = reply[0] as ClaimResult['kind'];
    if (kind === 'busy') return { kind, pttl: Number(reply[1]) };
    if (kind !== 'ok') return { kind };
    return {
      kind,
      attempt: Number(reply[1]),
      doc: JSON.parse(reply[2]!) as RunDoc,
      state: JSON.parse(reply[3]!) as RunSnapshot,
      ...(reply[4] ? { committed: JSON.parse(reply[4]) as Committed } : {}),
    };
  }

  async renew(id: string, token: string, ttlMs: number): Promise<{ held: boolean; cancelRequested: boolean }> {
    const reply = (await this.#call('kgRenew', id, token, ttlMs)) as string[];
    return { held: reply[0] === 'ok', cancelRequested: reply[1] === '1' };
  }

  async update(id: string, token: string, ttlMs: number, state: RunSnapshot): Promise<boolean> {
    return (await this.#call('kgUpdate', id, token, ttlMs, JSON.stringify(withoutPreviews(state)))) === 'ok';
  }

  async finish(id: string, token: string, ttlMs: number, state: RunSnapshot): Promise<boolean> {
    const reply = await this.#call(
      'kgFinish',
      id,
      token,
      ttlMs,
      JSON.stringify(withoutPreviews(state)),
      state.status,
      state.endedAt ?? Date.now(),
    );
    return reply === 'ok';
  }

  async release(id: string, token: string, ttlMs: number, state: RunSnapshot): Promise<boolean> {
    return (await this.#call('kgRelease', id, token, ttlMs, JSON.stringify(withoutPreviews(state)))) === 'ok';
  }

  /** Ends a run that nobody holds (attempts used up, lost): 'ok', 'finished', 'busy' or 'missing'. */
  async settle(id: string, state: RunSnapshot): Promise<string> {
    return (await this.#call(
      'kgSettle',
      id,
      JSON.stringify(withoutPreviews(state)),
      state.status,
      state.endedAt ?? Date.now(),
    )) as string;
  }

  /** 'cancelled' (it was waiting: ended now), 'signalled' (its worker must stop it), 'finished' or 'missing'. */
  async cancel(id: string, cancelled: RunSnapshot): Promise<string> {
    return (await this.#call(
      'kgCancel',
      id,
      JSON.stringify(withoutPreviews(cancelled)),
      cancelled.endedAt ?? Date.now(),
    )) as string;
  }

  /** Records a run's outputs once: 'ok', the earlier commit, or 'lost' (the token no longer holds the run). */
  async commit(
    id: string,
    token: string,
    ttlMs: number,
    files: readonly string[],
  ): Promise<{ kind: 'ok' } | { kind: 'lost' } | { kind: 'committed'; committed: Committed }> {
    const reply = (await this.#call('kgCommit', id, token, ttlMs, JSON.stringify({ token, files }))) as string[];
    if (reply[0] === 'committed') return { kind: 'committed', committed: JSON.parse(reply[1]!) as Committed };
    return { kind: reply[0] === 'ok' ? 'ok' : 'lost' };
  }

  async forget(id: string): Promise<void> {
    await this.#call('kgForget', id);
  }

  /** The run's doc (workflow, inputs, keys). */
  async doc(id: string): Promise<RunDoc | undefined> {
    const text = await this.redis.hget(this.keys.run(id), 'doc');
    return text ? (JSON.parse(text) as RunDoc) : undefined;
  }

  /** Records by id (missing ones left out), in batches of one round trip each. */
  async load(ids: readonly string[]): Promise<StoredRun[]> {
    const out: StoredRun[] = [];
    const fields = ['state', 'status', 'attempt', 'ver', 'round', 'priority', 'cancel', 'committed'] as const;
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const pipeline = this.redis.pipeline();
      for (const id of batch) pipeline.hmget(this.keys.run(id), ...fields);
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((id, k) => {
        const [error, values] = replies[k] ?? [];
        if (error || !Array.isArray(values) || values[0] === null) return;
        const [state, status, attempt, ver, round, priority, cancel, committed] = values as (string | null)[];
        out.push({
          id,
          state: JSON.parse(state!) as RunSnapshot,
          status: status as RunStatus,
          attempt: Number(attempt ?? 0),
          ver: Number(ver ?? 0),
          round: Number(round ?? 0),
          priority: Number(priority ?? 5),
          cancelRequested: cancel === '1',
          ...(committed ? { committed: JSON.parse(committed) as Committed } : {}),
        });
      });
    }
    return out;
  }

  /** Every remembered run id, oldest first. */
  async ids(): Promise<string[]> {
    return this.redis.zrange(this.keys.runs, '0', '-1');
  }

  /** Runs changed after sequence number `after`: ids and the newest sequence number seen. */
  async changes(after: number, limit = 1000): Promise<{ ids: string[]; last: number }> {
    const reply = await this.redis.zrangebyscore(
      this.keys.changes,
      `(${after}`,
      '+inf',
      'WITHSCORES',
      'LIMIT',
      '0',
      String(limit),
    );
    const ids: string[] = [];
    let last = after;
    for (let i = 0; i < reply.length; i += 2) {
      ids.push(reply[i]!);
      last = Math.max(last, Number(reply[i + 1]));
    }
    return { ids, last };
  }

  /** The newest change sequence number. */
  async lastChange(): Promise<number> {
    return Number((await this.redis.get(this.keys.seq)) ?? 0);
  }
}
