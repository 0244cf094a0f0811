/**
 * `kinegraph serve --queue redis://...`: the server's side of the queue. It validates runs and records
 * them in Redis (a run's record, see `store.ts`) with a BullMQ job — a "ticket" — that brings the run to a
 * worker in priority and fair-share order. Workers execute runs and report through Redis; this side keeps
 * a picture of every run for the API (`view.ts`), receives outputs over HTTP (`outputs.ts`,
 * `worker-routes.ts`), routes re-runs to the worker that holds their parent's results, and repairs what it
 * finds broken (a ticket lost with a crash, a Redis that came back with less).
 */
import { randomUUID } from 'node:crypto';
import { nodeTypesNeeded, type Runtime, type Workflow } from '@kinegraph/core';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { HttpError } from '../server/http.js';
import type { Router } from '../server/router.js';
import { validateSubmission } from '../server/validate-submission.js';
import type { RunSnapshot, ServerMessage } from '../shared/protocol.js';
import { applyEvent, isFinished, queuedRun } from '../shared/run-state.js';
import type { JobDetail, JobPage, JobQuery, RunBackend, SubmitOptions, WorkerInfo } from './backend.js';
import type { ControlMessage, LiveMessage } from './channel.js';
import { decode } from './channel.js';
import { unavailable } from './errors.js';
import { bullPriority, checkPriority, rebaseTargets } from './fairness.js';
import { collectInputs, type NamedFolder } from './inputs.js';
import { jobDetail, listJobs } from './jobs-query.js';
import { type QueueKeys, queueKeys } from './keys.js';
import { claimMs, QUEUE_TIMINGS } from './limits.js';
import { OutputFolder } from './outputs.js';
import { checkRedis, connect, parseQueueUrl, type QueueLocation } from './redis.js';
import { isFree, liveWorkers, workerInfo } from './registry.js';
import { findParent, type RouteCandidate, structuralKeys } from './routing.js';
import { ServerLock } from './server-lock.js';
import { type RunDoc, RunStore, type StoredRun } from './store.js';
import { type TicketData, ticketOptions } from './tickets.js';
import { RunView, type ViewRun } from './view.js';
import { addWorkerRoutes } from './worker-routes.js';

/** How to start the server's side of the queue. */
export interface QueueServerOptions {
  /** The `--queue` URL. */
  readonly queue: string;
  readonly runtime: Runtime;
  /** The folders runs may read (workers mirror them by these names), in lookup order. */
  readonly readable: readonly NamedFolder[];
  /** Where committed outputs go. */
  readonly outputs: string;
  readonly log: (message: string) => void;
  /** Runs that may wait at once (429 `QUEUE_FULL` past it). */
  readonly maxQueued: number;
  /** Bytes of workflow JSON the waiting runs submitted here may hold together (429 `QUEUE_FULL` past it). */
  readonly maxQueuedBytes: number;
  /** Finished runs kept in Redis and listed; older ones are forgotten (their output files stay). */
  readonly keepFinished: number;
}

/** Candidates for routing: this many most recent finished runs. */
const ROUTE_CANDIDATES = 200;

export class QueueRunBackend implements RunBackend {
  readonly view = new RunView();
  readonly outputs: OutputFolder;
  readonly keys: QueueKeys;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Ticket ids issued again for runs whose first ticket was lost. */
  readonly #tickets = new Map<string, string>();
  #lastChange = 0;
  #polling = false;
  #closed = false;
  #needsFullLoad = false;

  private constructor(
    readonly options: QueueServerOptions,
    readonly location: QueueLocation,
    readonly redis: Redis,
    readonly subscriber: Redis,
    readonly store: RunStore,
    readonly tickets: Queue<TicketData>,
    readonly lock: ServerLock,
  ) {
    this.keys = store.keys;
    this.outputs = new OutputFolder(options.outputs);
  }

  /**
   * Connects, checks Redis (`REDIS_EVICTION_POLICY`, `REDIS_TOO_OLD`), takes the queue's server lock
   * (`QUEUE_SERVER_RUNNING`: one server per queue), loads every remembered run and starts listening.
   */
  static async start(options: QueueServerOptions): Promise<QueueRunBackend> {
    const location = parseQueueUrl(options.queue);
    const keys = queueKeys(location.name);
    const redis = connect(location, { failFast: true, name: 'kinegraph-server' });
    const subscriber = connect(location, { failFast: false, name: 'kinegraph-server-live' });
    const bull = connect(location, { failFast: true, name: 'kinegraph-server-tickets' });
    // Until started, a connection error is the caller's to report, not an unhandled 'error' event.
    for (const c of [redis, subscriber, bull]) c.on('error', () => undefined);
    try {
      await Promise.all([redis.connect(), subscriber.connect(), bull.connect()]).catch((error: Error) => {
        throw unavailable(location, error);
      });
      const check = await checkRedis(redis);
      for (const warning of check.warnings) options.log(`warning: ${warning}`);
      const lock = await ServerLock.acquire(redis, keys, options.log);
      const tickets = new Queue<TicketData>(keys.tickets, {
        connection: bull,
        prefix: keys.bullPrefix,
        // Nobody reads BullMQ's event stream (live events go over pub/sub): keep it short.
        streams: { events: { maxLen: 100 } },
      });
      const backend = new QueueRunBackend(
        options,
        location,
        redis,
        subscriber,
        new RunStore(redis, keys),
        tickets,
        lock,
      );
      await backend.#begin();
      return backend;
    } catch (error) {
      for (const c of [redis, subscriber, bull]) c.disconnect();
      throw error;
    }
  }

  async #begin(): Promise<void> {
    this.#lastChange = await this.store.lastChange();
    await this.#loadAll();
    await this.#repairTickets([...this.view.runs.values()].filter((r) => !isFinished(r.snapshot)));
    this.subscriber.on('message', (_channel: string, text: string) => this.#onLive(text));
    await this.subscriber.subscribe(this.keys.live);
    // After Redis comes back (a restart may have lost the last second, or everything), start from what it has.
    this.redis.on('ready', () => {
      this.#needsFullLoad = true;
    });
    this.#every(QUEUE_TIMINGS.changePollMs, () => this.#poll());
    this.#every(QUEUE_TIMINGS.reconcileMs, () => this.#reconcile());
  }

  #every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.#closed) return;
      running = true;
      task()
        .catch((error: unknown) => this.#logError(error))
        .finally(() => {
          running = false;
        });
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #lastLogged = '';
  #logError(error: unknown): void {
    // A Redis outage fails every poll: say so once, not four times a second.
    const text = `kinegraph serve: queue: ${(error as Error)?.message ?? String(error)}`;
    if (text !== this.#lastLogged) this.options.log(text);
    this.#lastLogged = text;
  }

  // ---- reads -------------------------------------------------------------------------------------------

  get(id: string): RunSnapshot {
    return this.#known(id).snapshot;
  }

  list(): RunSnapshot[] {
    return [...this.view.runs.values()].map((r) => r.snapshot);
  }

  jobs(query: JobQuery): JobPage {
    return listJobs(this.list(), query, (s) => this.view.runs.get(s.id)?.rank);
  }

  async job(id: string): Promise<JobDetail> {
    const run = this.#known(id).snapshot;
    const doc = await this.store.doc(id).catch((error: Error) => {
      throw unavailable(this.location, error);
    });
    return jobDetail(run, doc?.workflow, this.list(), (s) => this.view.runs.get(s.id)?.rank);
  }

  subscribe(listener: (message: ServerMessage) => void): () => void {
    return this.view.subscribe(listener);
  }

  async workers(): Promise<WorkerInfo[]> {
    return liveWorkers(this.redis, this.keys).catch((error: Error) => {
      throw unavailable(this.location, error);
    });
  }

  /** `queue: { redis: ready|reconnecting|..., workers }` for `GET /api/health`. */
  async health(): Promise<Record<string, unknown>> {
    const workers = await liveWorkers(this.redis, this.keys).catch(() => undefined);
    return { queue: { redis: this.redis.status, ...(workers ? { workers: workers.length } : {}) } };
  }

  #known(id: string): ViewRun {
    const run = this.view.runs.get(id);
    if (!run)
      throw new HttpError(
        404,
        'RUN_NOT_FOUND',
        `No run "${id}".`,
        `The queue remembers the last ${this.options.keepFinished} finished runs.`,
      );
    return run;
  }

  // ---- submit and cancel -------------------------------------------------------------------------------

  checkRoom(bytes = 0): void {
    if (this.#closed) throw new HttpError(503, 'SERVER_CLOSING', 'The server is shutting down.');
    let waiting = 0;
    let waitingBytes = 0;
    for (const run of this.view.runs.values())
      if (run.snapshot.status === 'queued') {
        waiting++;
        waitingBytes += run.bytes ?? 0;
      }
    if (waiting >= this.options.maxQueued || waitingBytes + bytes > this.options.maxQueuedBytes)
      throw new HttpError(
        429,
        'QUEUE_FULL',
        waiting >= this.options.maxQueued
          ? `${waiting} runs are already waiting (the most this queue holds).`
          : 'The waiting runs already hold as much workflow data as this queue holds.',
        'Wait for queued runs to finish, or cancel some, then submit again.',
        undefined,
        { 'retry-after': '5' },
      );
  }

  async submit(document: unknown, options: SubmitOptions = {}): Promise<RunSnapshot> {
    this.checkRoom(options.bytes ?? 0);
    const prepared = validateSubmission(this.options.runtime, document, options);
    const workflow = prepared.workflow as Workflow;
    const inputs = await collectInputs(workflow, this.options.readable);
    const keys = structuralKeys(prepared);
    const priority = checkPriority(options.priority);
    const front = options.front === true;
    const client = options.client ?? 'unknown';
    const id = randomUUID();
    const snapshot = queuedRun(
      id,
      typeof workflow.name === 'string' ? workflow.name : undefined,
      prepared.order,
      Date.now(),
      [...(prepared.skipped?.keys() ?? [])],
    );
    Object.assign(snapshot, {
      priority,
      client,
      ...(front ? { front } : {}),
      ...(options.targets ? { targets: [...options.targets] } : {}),
    });
    const route = await this.#route(keys, options.parent);
    if (route) snapshot.parent = route.parent;
    const doc: RunDoc = {
      workflow,
      inputs,
      keys,
      ...(options.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
      ...(options.targets ? { targets: [...options.targets] } : {}),
    };
    let rank: { round: number; base: number };
    try {
      rank = await this.store.submit(id, doc, snapshot, { client, priority, front });
    } catch (error) {
      throw unavailable(this.location, error as Error);
    }
    this.view.add({
      snapshot,
      ver: 0,
      attempt: 0,
      rank: { priority, front, round: rank.round, seq: snapshot.createdAt },
      lastLive: 0,
      keys: new Set(Object.values(keys)),
      bytes: options.bytes ?? 0,
    });
    // The record is durable from here: a lost ticket is issued again by the repair loop, so the run is
    // accepted even if adding its ticket fails now.
    const data: TicketData = { runId: id, requires: requirements(workflow) };
    try {
      await this.tickets.add(
        'run',
        data,
        ticketOptions(id, {
          ...(front ? { front } : { priority: bullPriority(priority, rank.round, rank.base) }),
          ...(route ? { delay: QUEUE_TIMINGS.routeGraceMs } : {}),
        }),
      );
      if (route)
        await this.#publish({
          kind: 'offer',
          runId: id,
          workerId: route.workerId,
          nodeTypes: Object.keys(data.requires),
        });
    } catch (error) {
      this.#logError(error);
    }
    return snapshot;
  }

  /** The parent run and its worker, when that worker is alive and free; else the run goes to anyone. */
  async #route(keys: Record<string, string>, parentId: string | undefined) {
    let parent: RouteCandidate | undefined;
    if (parentId !== undefined) {
      const known = this.view.runs.get(parentId)?.snapshot;
      if (!known) throw new HttpError(400, 'PARENT_UNKNOWN', `parent "${parentId}" is not a run this server knows.`);
      if (known.worker && known.status === 'done')
        parent = { id: parentId, workerId: known.worker.id, keys: new Set(), endedAt: known.endedAt ?? 0 };
    } else {
      const candidates: RouteCandidate[] = [];
      for (const run of [...this.view.runs.values()].reverse()) {
        if (candidates.length >= ROUTE_CANDIDATES) break;
        const s = run.snapshot;
        if (s.status === 'done' && s.worker && run.keys)
          candidates.push({ id: s.id, workerId: s.worker.id, keys: run.keys, endedAt: s.endedAt ?? 0 });
      }
      parent = findParent(keys, candidates)?.candidate;
    }
    if (!parent) return undefined;
    const info = await workerInfo(this.redis, this.keys, parent.workerId).catch(() => undefined);
    const hasEnded = (runId: string) => {
      const run = this.view.runs.get(runId);
      return run !== undefined && isFinished(run.snapshot);
    };
    return isFree(info, hasEnded) ? { parent: parent.id, workerId: parent.workerId } : undefined;
  }

  async cancel(id: string): Promise<RunSnapshot> {
    const known = this.#known(id);
    if (isFinished(known.snapshot))
      throw new HttpError(409, 'RUN_FINISHED', `Run "${id}" has already ended (${known.snapshot.status}).`);
    const cancelled = structuredClone(known.snapshot);
    applyEvent(cancelled, { type: 'run:cancelled', runId: id, ms: 0 });
    let outcome: string;
    try {
      outcome = await this.store.cancel(id, cancelled);
    } catch (error) {
      throw unavailable(this.location, error as Error);
    }
    if (outcome === 'cancelled') {
      this.view.applyEvent(id, { type: 'run:cancelled', runId: id, ms: 0 });
      await this.tickets.remove(this.#tickets.get(id) ?? id).catch(() => undefined);
    } else if (outcome === 'signalled') {
      await this.#publish({ kind: 'cancel', runId: id });
    } else {
      await this.#refresh([id]);
      if (outcome === 'finished')
        throw new HttpError(409, 'RUN_FINISHED', `Run "${id}" has already ended (${this.get(id).status}).`);
    }
    return this.get(id);
  }

  async #publish(message: ControlMessage): Promise<void> {
    await this.redis.publish(this.keys.control, JSON.stringify(message));
  }

  // ---- keeping the picture current ---------------------------------------------------------------------

  #onLive(text: string): void {
    const message = decode<LiveMessage>(text);
    if (!message) return;
    if (!this.view.applyLive(message)) void this.#refresh([message.runId]).catch((e) => this.#logError(e));
  }

  /** Follows the change feed; after a reconnect, reloads everything. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      if (this.#needsFullLoad) {
        this.#needsFullLoad = false;
        this.#lastChange = await this.store.lastChange();
        await this.#loadAll();
        await this.#repairTickets([...this.view.runs.values()].filter((r) => !isFinished(r.snapshot)));
        return;
      }
      const { ids, last } = await this.store.changes(this.#lastChange);
      if (last < this.#lastChange) this.#lastChange = last;
      if (!ids.length) return;
      await this.#refresh(ids);
      this.#lastChange = last;
    } finally {
      this.#polling = false;
    }
  }

  async #refresh(ids: readonly string[]): Promise<void> {
    for (const record of await this.store.load(ids)) {
      if (!this.view.applyRecord(record)) this.#adopt(record);
    }
  }

  /** Every remembered run, from Redis; runs Redis no longer has are marked lost. */
  async #loadAll(): Promise<void> {
    const ids = await this.store.ids();
    const records = await this.store.load(ids);
    const present = new Set(records.map((r) => r.id));
    for (const record of records) if (!this.view.applyRecord(record)) this.#adopt(record);
    for (const run of this.view.runs.values()) {
      if (present.has(run.snapshot.id) || isFinished(run.snapshot)) continue;
      // Acknowledged, then gone: Redis restarted without the write (no AOF, or appendfsync everysec).
      applyEvent(run.snapshot, {
        type: 'run:error',
        runId: run.snapshot.id,
        error: {
          code: 'RUN_LOST',
          message: 'Redis restarted without this run: it was not kept.',
          hint: 'Run Redis with appendonly yes and appendfsync always so that an acknowledged run survives a restart.',
        },
        ms: 0,
      });
      this.view.broadcast({ kind: 'run', run: run.snapshot });
    }
    // Routing after a restart: the keys of recent finished runs.
    const recent = [...this.view.runs.values()]
      .filter((r) => r.snapshot.status === 'done' && !r.keys)
      .slice(-ROUTE_CANDIDATES);
    for (const run of recent) {
      const doc = await this.store.doc(run.snapshot.id);
      if (doc) run.keys = new Set(Object.values(doc.keys));
    }
  }

  #adopt(record: StoredRun): void {
    const state = { ...record.state, status: record.status };
    this.view.runs.set(record.id, {
      snapshot: state,
      ver: record.ver,
      attempt: record.attempt,
      rank: {
        priority: record.priority,
        front: state.front === true,
        round: record.round,
        seq: state.createdAt,
      },
      lastLive: 0,
    });
    this.view.broadcast({ kind: 'run', run: state });
  }

  // ---- repairs -----------------------------------------------------------------------------------------

  async #reconcile(): Promise<void> {
    await this.lock.renew();
    await this.#forgetOld();
    await this.#rebase();
    const now = Date.now();
    // A run nobody holds that is not waiting on a live ticket lost it (a crash between record and ticket,
    // a ticket that failed for good): it gets a new one.
    const orphans: ViewRun[] = [];
    for (const run of this.view.runs.values()) {
      const s = run.snapshot;
      if (isFinished(s) || now - s.createdAt < QUEUE_TIMINGS.reconcileMs) continue;
      if (s.status === 'queued' || (s.status === 'running' && now - run.lastLive > 2 * claimMs())) orphans.push(run);
    }
    await this.#repairTickets(orphans);
    for (const runId of await this.outputs.stagedRuns()) {
      const run = this.view.runs.get(runId);
      if (!run || isFinished(run.snapshot)) await this.outputs.discard(runId);
    }
  }

  async #repairTickets(runs: readonly ViewRun[]): Promise<void> {
    for (let i = 0; i < runs.length; i += 100) {
      const batch = runs.slice(i, i + 100);
      const claims = await this.redis.mget(batch.map((r) => this.keys.claim(r.snapshot.id)));
      await Promise.all(
        batch.map(async (run, k) => {
          if (claims[k] !== null) return; // Someone runs it.
          const id = run.snapshot.id;
          const ticket = await this.tickets.getJob(await this.#ticketId(id));
          if (ticket && !ticket.finishedOn) return; // Waiting, delayed, or being taken.
          const fresh = `${id}.${Date.now().toString(36)}`;
          const doc = await this.store.doc(id);
          if (!doc) return;
          const base = Number((await this.redis.hget(this.keys.fair, `base:${run.rank.priority}`)) ?? 0);
          await this.tickets.add(
            'run',
            { runId: id, requires: requirements(doc.workflow as Workflow) },
            ticketOptions(
              fresh,
              run.rank.front ? { front: true } : { priority: bullPriority(run.rank.priority, run.rank.round, base) },
            ),
          );
          await this.redis.hset(this.keys.run(id), 'ticket', fresh);
          this.#tickets.set(id, fresh);
          this.options.log(`kinegraph serve: queue: run ${id} had lost its ticket; queued it again.`);
        }),
      );
    }
  }

  async #ticketId(runId: string): Promise<string> {
    return this.#tickets.get(runId) ?? (await this.redis.hget(this.keys.run(runId), 'ticket')) ?? runId;
  }

  /** Moves a priority's base round up when {@link rebaseTargets} says so, re-prioritising its waiting tickets. */
  async #rebase(): Promise<void> {
    for (const { priority, base } of rebaseTargets(await this.redis.hgetall(this.keys.fair))) {
      await this.redis.hset(this.keys.fair, `base:${priority}`, base);
      for (const run of this.view.runs.values()) {
        const { rank, snapshot } = run;
        if (snapshot.status !== 'queued' || rank.front || rank.priority !== priority) continue;
        const ticket = await this.tickets.getJob(await this.#ticketId(snapshot.id));
        await ticket?.changePriority({ priority: bullPriority(priority, rank.round, base) }).catch(() => undefined);
      }
      this.options.log(`kinegraph serve: queue: priority ${priority} rounds now count from ${base}.`);
    }
  }

  /** Forgets the oldest finished runs beyond the retention (their files stay in outputs/). */
  async #forgetOld(): Promise<void> {
    const keep = this.options.keepFinished;
    const count = await this.redis.zcard(this.keys.finished);
    if (count <= keep) return;
    const old = await this.redis.zrange(this.keys.finished, '0', String(count - keep - 1));
    for (const id of old) {
      await this.store.forget(id);
      this.view.forget(id);
      this.#tickets.delete(id);
    }
  }

  // ---- HTTP --------------------------------------------------------------------------------------------

  /** The endpoints workers call (inputs, outputs, commit). */
  addRoutes(router: Router): void {
    addWorkerRoutes(router, this);
  }

  /** A file of a run in progress, uploaded but not committed yet (`<run>/<path>` under outputs/). */
  async stagedOutput(urlPath: string): Promise<{ path: string; size: number; mtimeMs: number } | undefined> {
    const [runId, ...rest] = urlPath.split('/').map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return '\0';
      }
    });
    if (!runId || !rest.length) return undefined;
    const run = this.view.runs.get(runId);
    if (run?.snapshot.status !== 'running') return undefined;
    const token = await this.redis.hget(this.keys.run(runId), 'token').catch(() => null);
    if (!token) return undefined;
    return this.outputs.staged(runId, token, rest.join('/')).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.lock.release().catch(() => undefined);
    await this.tickets.close().catch(() => undefined);
    this.subscriber.disconnect();
    this.redis.disconnect();
  }
}

/** Which package provides each node type of a workflow (a worker checks it has them before it claims). */
function requirements(workflow: Workflow): TicketData['requires'] {
  const recorded = (workflow.metadata?.nodeTypes ?? {}) as TicketData['requires'];
  const out: TicketData['requires'] = {};
  for (const type of nodeTypesNeeded(workflow)) out[type] = recorded[type] ?? { package: 'unknown' };
  return out;
}
