/**
 * `kinegraph worker`: takes runs from the queue and executes them with its own runtime. Tickets come from
 * BullMQ (in priority and fair-share order; a dead worker's tickets come back through BullMQ's stalled-job
 * detection); for each, the worker claims the run (`store.ts`: one worker per run, renewed every third of
 * the claim time), executes it (`run-executor.ts`), and ends it. It also accepts re-runs the server offers
 * it because it holds their parent's cached results, and stops a run when the server says it was cancelled.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeviceRequest, KinegraphError, Runtime } from '@kinegraph/core';
import { DelayedError, type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { PathRedactor } from '../server/redact.js';
import type { RunSnapshot, RunWorker } from '../shared/protocol.js';
import { applyEvent } from '../shared/run-state.js';
import type { WorkerInfo } from './backend.js';
import { type ControlMessage, decode } from './channel.js';
import { FileMirror } from './file-mirror.js';
import { type QueueKeys, queueKeys } from './keys.js';
import { claimMs, QUEUE_TIMINGS } from './limits.js';
import { connect, parseQueueUrl } from './redis.js';
import { announce, liveWorkers, retire } from './registry.js';
import { executeRun, type Outcome, type RunControl } from './run-executor.js';
import { ServerClient } from './server-client.js';
import { RunStore } from './store.js';
import type { TicketData } from './tickets.js';

/** How to start a worker. */
export interface QueueWorkerOptions {
  /** The `--queue` URL. */
  readonly queue: string;
  /** The server's base URL (`--server`): inputs come from it, outputs go to it. */
  readonly server: string;
  readonly token?: string;
  /** Runs executed at once (default 1). */
  readonly concurrency?: number;
  readonly device?: DeviceRequest;
  /** Shown in job listings (default: host name and process id). */
  readonly name?: string;
  /** Where plugins and model packs are found, as for `kinegraph run`. */
  readonly cwd: string;
  /** Scratch and input cache (default: a folder in the system's temporary folder). */
  readonly workDir?: string;
  readonly log?: (message: string) => void;
  /** A runtime to use (tests); by default one is created that discovers plugins from `cwd`. */
  readonly runtime?: Runtime;
}

interface LocalRun {
  readonly control: RunControl;
  readonly done: Promise<Outcome>;
  /** The claim token. */
  readonly token: string;
  /** The BullMQ job that brought it, unless it came as an offer. */
  readonly ticketId?: string;
}

/** Folders the server lets runs read, in its lookup order (the worker mirrors them). */
const READABLE = ['workflows', 'inputs', 'outputs'];

/**
 * Scratch folders of worker processes of this machine that are gone (killed mid-run): several workers may
 * share a work folder, each with its own `runs/<pid>-<id>`.
 */
async function removeDeadScratch(runs: string): Promise<void> {
  for (const name of await readdir(runs).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH')
        await rm(join(runs, name), { recursive: true, force: true });
    }
  }
}

export class QueueWorker {
  readonly id: string;
  readonly self: RunWorker;
  readonly #runs = new Map<string, LocalRun>();
  readonly #startedAt = Date.now();
  #bull!: Worker<TicketData>;
  #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | undefined;
  #paused = false;

  private constructor(
    readonly options: QueueWorkerOptions,
    readonly runtime: Runtime,
    readonly redis: Redis,
    readonly subscriber: Redis,
    readonly keys: QueueKeys,
    readonly store: RunStore,
    readonly server: ServerClient,
    readonly mirror: FileMirror,
    readonly scratch: string,
    device: string,
    readonly redactor: PathRedactor,
  ) {
    const name = options.name ?? `${hostname()}:${process.pid}`;
    this.id = `${name.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64)}-${randomUUID().slice(0, 8)}`;
    this.self = { id: this.id, name, host: hostname(), device };
  }

  get concurrency(): number {
    return Math.max(1, this.options.concurrency ?? 1);
  }

  /** Connects, starts the runtime (and its device), and starts taking runs. */
  static async start(options: QueueWorkerOptions): Promise<QueueWorker> {
    const location = parseQueueUrl(options.queue);
    const keys = queueKeys(location.name);
    const redis = connect(location, { failFast: false, name: 'kinegraph-worker' });
    const subscriber = connect(location, { failFast: false, name: 'kinegraph-worker-control' });
    const log = options.log ?? ((m: string) => console.error(m));
    for (const c of [redis, subscriber]) c.on('error', () => undefined);
    const unreachable = (why: string) =>
      new KinegraphError('QUEUE_UNAVAILABLE', `Cannot reach the queue's Redis at ${location.display}: ${why}.`, {
        hint: 'Check --queue, and that Redis runs and accepts connections from this machine.',
      });
    try {
      await Promise.race([
        Promise.all([redis.connect(), subscriber.connect()]).catch((error: Error) => {
          throw unreachable(error.message);
        }),
        new Promise((_, reject) => setTimeout(() => reject(unreachable('no answer in 10 s')), 10_000).unref()),
      ]);
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      throw error;
    }
    const runtime =
      options.runtime ??
      (await Runtime.create({
        device: options.device ?? 'cpu',
        discover: { cwd: options.cwd },
        catchStrayErrors: true,
        startWorker: true,
      }));
    for (const failed of runtime.discovery.failed)
      log(`warning: plugin ${failed.package} was skipped: ${failed.error.message}`);
    // The device is known once the tensor store runs: `auto` resolves, a missing WebGPU fails here.
    const device = (await runtime.store()).device;
    const workDir = options.workDir ?? join(tmpdir(), `kinegraph-worker-${hostname()}`);
    await removeDeadScratch(join(workDir, 'runs'));
    const scratch = join(workDir, 'runs', `${process.pid}-${randomUUID().slice(0, 8)}`);
    await mkdir(scratch, { recursive: true });
    const worker = new QueueWorker(
      options,
      runtime,
      redis,
      subscriber,
      keys,
      new RunStore(redis, keys),
      new ServerClient(options.server, options.token),
      new FileMirror(workDir, READABLE),
      scratch,
      device,
      // Mirrored inputs read as on the server (`inputs/a.png`); anything else keeps its last segment.
      new PathRedactor(join(workDir, 'files')),
    );
    await worker.#begin(location, log);
    return worker;
  }

  async #begin(location: ReturnType<typeof parseQueueUrl>, log: (m: string) => void): Promise<void> {
    this.subscriber.on('message', (_channel: string, text: string) => this.#onControl(text));
    await this.subscriber.subscribe(this.keys.control);
    const ttl = claimMs();
    const bullConnection = connect(location, { failFast: false, name: 'kinegraph-worker-tickets' });
    bullConnection.on('error', () => undefined);
    this.#bull = new Worker<TicketData>(
      this.keys.tickets,
      // Three parameters: BullMQ passes an AbortSignal only to processors that take one.
      (job, token, signal) => this.#process(job, token, signal),
      {
        connection: bullConnection,
        prefix: this.keys.bullPrefix,
        concurrency: this.concurrency,
        name: this.id,
        lockDuration: ttl,
        stalledInterval: Math.max(500, Math.round(ttl / 2)),
        maxStalledCount: 5,
        autorun: false,
      },
    );
    this.#bull.on('error', (error) => log(`kinegraph worker: queue: ${error.message}`));
    await this.#announce();
    this.#every(QUEUE_TIMINGS.heartbeatMs, () => this.#announce());
    this.#every(Math.max(200, Math.round(ttl / 3)), () => this.#renew());
    void this.#bull.run().catch((error: Error) => log(`kinegraph worker: ${error.message}`));
  }

  #every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => void task().catch(() => undefined), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Processes one ticket. */
  async #process(job: Job<TicketData>, bullToken: string | undefined, signal?: AbortSignal): Promise<string> {
    const { runId, requires } = job.data;
    const handBack = async (ms: number): Promise<never> => {
      await job.moveToDelayed(Date.now() + ms, bullToken);
      throw new DelayedError();
    };
    if (this.#closing) return handBack(0);
    const missing = Object.keys(requires).filter(
      (type) => !this.runtime.registry.get(type) && !this.runtime.registry.blueprint(type),
    );
    if (missing.length && (await this.#someoneElseHas(missing, requires))) return handBack(1_000);
    if (this.#runs.size >= this.concurrency) return handBack(50);
    const outcome = await this.#claimAndRun(runId, job.id, signal);
    if (typeof outcome === 'object' && 'busy' in outcome) return handBack(Math.max(100, outcome.busy + 100));
    if (typeof outcome === 'object') {
      const reason = outcome.released;
      if (reason.kind === 'shutdown') return handBack(0);
      // Retried by BullMQ after a backoff (a lost server, a broken disk), with another attempt on the run.
      throw reason.kind === 'transfer'
        ? reason.error
        : reason.kind === 'failed'
          ? reason.error
          : new Error(reason.kind);
    }
    return typeof outcome === 'string' ? outcome : 'released';
  }

  /** Claims a run and executes it; `busy` (ms left on its claim) when another worker holds it. */
  async #claimAndRun(
    runId: string,
    ticketId?: string,
    signal?: AbortSignal,
  ): Promise<Outcome | { busy: number } | 'skipped'> {
    const token = `${this.id}:${randomUUID()}`;
    const ttl = claimMs();
    const claim = await this.store.claim(runId, token, this.self, ttl, QUEUE_TIMINGS.maxAttempts);
    if (claim.kind === 'busy') return { busy: claim.pttl };
    if (claim.kind === 'cancel' || claim.kind === 'exhausted') {
      await this.#settle(runId, claim.kind);
      return 'skipped';
    }
    if (claim.kind !== 'ok') return 'skipped';
    const control: RunControl = { controller: new AbortController() };
    const onAbort = () => {
      control.reason ??= this.#closing ? { kind: 'shutdown' } : { kind: 'cancel' };
      control.controller.abort(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = executeRun(
      {
        runtime: this.runtime,
        store: this.store,
        redis: this.redis,
        keys: this.keys,
        server: this.server,
        mirror: this.mirror,
        self: this.self,
        claimMs: ttl,
        scratch: this.scratch,
        redactor: this.redactor,
      },
      runId,
      token,
      claim,
      control,
    );
    this.#runs.set(runId, { control, done, token, ...(ticketId ? { ticketId } : {}) });
    this.#slotsChanged();
    try {
      return await done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#runs.delete(runId);
      this.#slotsChanged();
    }
  }

  /** Ends a run nobody will run: cancelled before a worker took it back, or out of attempts. */
  async #settle(runId: string, why: 'cancel' | 'exhausted'): Promise<void> {
    const [state, worker] = await this.redis.hmget(this.keys.run(runId), 'state', 'worker');
    if (!state) return;
    const snapshot = JSON.parse(state) as RunSnapshot;
    const last = worker ? (JSON.parse(worker) as RunWorker) : undefined;
    if (why === 'cancel') applyEvent(snapshot, { type: 'run:cancelled', runId, ms: 0 });
    else
      applyEvent(snapshot, {
        type: 'run:error',
        runId,
        error: {
          code: 'WORKER_LOST',
          message: `The run was started ${QUEUE_TIMINGS.maxAttempts} times without finishing${last ? ` (last on ${last.name})` : ''}: its workers died or could not reach the server. It is not retried again.`,
          hint: 'A run that takes its worker down (out of memory, a crashing plugin) fails like this; check the workers\u2019 logs and that --server is reachable from them.',
        },
        ms: 0,
      });
    // The server hears of it through the change feed.
    await this.store.settle(runId, snapshot);
  }

  /** Whether a live worker other than this one has every package this ticket needs. */
  async #someoneElseHas(missing: string[], requires: TicketData['requires']): Promise<boolean> {
    const packages = new Set(missing.map((t) => requires[t]?.package));
    const others = (await liveWorkers(this.redis, this.keys)).filter((w) => w.id !== this.id);
    return others.some((w) => [...packages].every((p) => w.packages.some((q) => q === p || q.startsWith(`${p}@`))));
  }

  #onControl(text: string): void {
    const message = decode<ControlMessage>(text);
    if (!message) return;
    if (message.kind === 'cancel') {
      const run = this.#runs.get(message.runId);
      if (!run) return;
      run.control.reason ??= { kind: 'cancel' };
      // A ticket's run stops through BullMQ's AbortSignal (the processor's third argument); an offered one
      // through its own.
      if (!run.ticketId || !this.#bull.cancelJob(run.ticketId, 'Cancelled from the editor.'))
        run.control.controller.abort(new DOMException('Cancelled from the editor.', 'AbortError'));
    } else if (message.kind === 'offer' && message.workerId === this.id && !this.#closing) {
      if (this.#runs.size >= this.concurrency || this.#runs.has(message.runId)) return;
      // Without one of its plugins this worker declines; the ticket finds a worker that has them.
      if (message.nodeTypes.some((type) => !this.runtime.registry.get(type))) return;
      // The ticket waits (delayed) while this worker runs it; it finds the run finished and is dropped.
      void this.#claimAndRun(message.runId).catch(() => undefined);
    }
  }

  /** Renews the claims of running runs; stops a run whose claim is lost or that was cancelled. */
  async #renew(): Promise<void> {
    const ttl = claimMs();
    await Promise.all(
      [...this.#runs].map(async ([runId, run]) => {
        const { held, cancelRequested } = await this.store.renew(runId, run.token, ttl);
        if (!held) run.control.reason ??= { kind: 'lost' };
        else if (cancelRequested) run.control.reason ??= { kind: 'cancel' };
        else return;
        run.control.controller.abort(new DOMException('The run was stopped.', 'AbortError'));
      }),
    );
  }

  /**
   * Runs offered to this worker take slots BullMQ does not know about: its concurrency shrinks by them, and
   * it stops fetching while they take every slot.
   */
  #slotsChanged(): void {
    const offered = [...this.#runs.values()].filter((r) => r.ticketId === undefined).length;
    const room = this.concurrency - offered;
    if (room <= 0 && !this.#paused) {
      this.#paused = true;
      void this.#bull.pause(true);
    } else if (room > 0) {
      if (this.#bull.concurrency !== room) this.#bull.concurrency = room;
      if (this.#paused && !this.#closing) {
        this.#paused = false;
        void this.#bull.resume();
      }
    }
    void this.#announce().catch(() => undefined);
  }

  info(): WorkerInfo {
    return {
      ...this.self,
      pid: process.pid,
      concurrency: this.concurrency,
      running: [...this.#runs.keys()],
      packages: this.runtime.discovery.loaded.map((p) => `${p.name}${p.source.version ? `@${p.source.version}` : ''}`),
      startedAt: this.#startedAt,
      lastSeen: Date.now(),
    };
  }

  async #announce(): Promise<void> {
    if (this.#closing) return;
    await announce(this.redis, this.keys, this.info());
  }

  /**
   * Stops: takes no more runs, hands the running ones back to the queue (they start again elsewhere) and
   * disconnects.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#timers) clearInterval(timer);
      for (const run of this.#runs.values()) {
        run.control.reason ??= { kind: 'shutdown' };
        run.control.controller.abort(new DOMException('The worker is stopping.', 'AbortError'));
      }
      await Promise.allSettled([...this.#runs.values()].map((r) => r.done));
      await this.#bull.close().catch(() => undefined);
      await retire(this.redis, this.keys, this.id).catch(() => undefined);
      if (!this.options.runtime) await this.runtime.close();
      await rm(this.scratch, { recursive: true, force: true });
      this.subscriber.disconnect();
      this.redis.disconnect();
    })();
    return this.#closing;
  }
}
