/**
 * The run queue: one Runtime (so its output cache makes re-runs incremental across submissions), runs
 * executed one at a time in queue order (priority, clients taking turns, submission; a waiting run can be
 * moved to the front), and for each run a snapshot that every event folds into, so a client that connects
 * late sees where things are without a replay. Finished runs go to the history store (on disk), with the
 * workflow each ran and its thumbnail, so the history survives a restart.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { relative, sep } from 'node:path';
import type { PreparedWorkflow, RunEvent, Runtime } from '@kinegraph/core';
import type { Subscription } from 'rxjs';
import type { JobDetail, JobPage, JobQuery, RunBackend, SubmitOptions, WorkerInfo } from '../queue/backend.js';
import { checkPriority, compareQueued, FairShare, type QueueRank } from '../queue/fairness.js';
import { jobDetail, listJobs } from '../queue/jobs-query.js';
import type { RunSnapshot, RunWorker, ServerMessage, WireEvent, WirePreview } from '../shared/protocol.js';
import { applyEvent, isFinished, queuedRun } from '../shared/run-state.js';
import { isInside } from './files.js';
import type { HistoryStore } from './history-store.js';
import { HttpError } from './http.js';
import { type PathRedactor, redactEvent } from './redact.js';
import { validateSubmission } from './validate-submission.js';
import { progressToWire } from './wire-progress.js';

/** Where runs read from and write to, and how much the queue may hold. */
export interface RunFolders {
  readonly outputFolder: string;
  readonly allowedFolders: readonly string[];
  /** Runs waiting behind the running one (429 `QUEUE_FULL` past it). */
  readonly maxQueued: number;
  /** Bytes of workflow JSON the waiting runs may hold together (429 `QUEUE_FULL` past it). */
  readonly maxQueuedBytes: number;
  /** Finished runs remembered; the oldest are forgotten as each run ends. */
  readonly keepFinished: number;
  /** Rewrites server paths in what clients are told. */
  readonly redactor: PathRedactor;
  /** Memory budget of each run, bytes; a run may ask for less. */
  readonly memoryBudgetBytes: number;
  /** The runtime's device, as jobs report it (default `cpu`). */
  readonly device?: string;
}

interface QueuedRun {
  readonly snapshot: RunSnapshot;
  /** What runs; dropped when the run ends, so a finished run holds only its small snapshot. */
  prepared: PreparedWorkflow | undefined;
  readonly controller: AbortController;
  /** Size of the workflow JSON it was submitted as, counted against `maxQueuedBytes` while it waits. */
  readonly bytes: number;
  /** Its memory budget, bytes. */
  readonly budget: number;
  rank: QueueRank;
  /**
   * The workflow it runs (migrated, defaults filled), for "open this run": kept while the run waits or runs,
   * then only in the history on disk (so finished runs cost no memory for it).
   */
  workflow: unknown;
  /** The latest preview any of its nodes made: the run's thumbnail. */
  thumbnail?: WirePreview;
}

/** Longest workflow `name` a snapshot keeps (names are for lists, not for storage). */
const MAX_NAME_LENGTH = 200;

/** Queues and executes runs in this process, one at a time, and tells listeners about every change. */
export class RunQueue implements RunBackend {
  readonly #runs = new Map<string, QueuedRun>();
  /** Kept sorted by {@link compareQueued}: priority, then clients taking turns, then submission order. */
  readonly #waiting: QueuedRun[] = [];
  readonly #fair = new FairShare();
  readonly #startedAt = Date.now();
  #seq = 0;
  readonly #listeners = new Set<(message: ServerMessage) => void>();
  #current: { run: QueuedRun; subscription?: Subscription; done: Promise<void> } | undefined;
  #closed = false;
  #waitingBytes = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly folders: RunFolders,
    private readonly history?: HistoryStore,
  ) {
    // Finished runs of earlier sessions, so the history survives a restart.
    for (const stored of history?.load() ?? []) {
      this.#runs.set(stored.snapshot.id, {
        snapshot: stored.snapshot,
        prepared: undefined,
        controller: new AbortController(),
        bytes: 0,
        budget: 0,
        rank: { priority: stored.snapshot.priority ?? 5, front: false, round: 0, seq: 0 },
        workflow: undefined,
        ...(stored.thumbnail ? { thumbnail: stored.thumbnail } : {}),
      });
    }
    this.#forgetOld();
  }

  /**
   * Throws 503 `SERVER_CLOSING`, or 429 `QUEUE_FULL` when the waiting runs hold as many runs as allowed or
   * `bytes` more would pass the bytes allowed. The server asks before it reads a body, and again after.
   */
  checkRoom(bytes = 0): void {
    if (this.#closed) throw new HttpError(503, 'SERVER_CLOSING', 'The server is shutting down.');
    const { maxQueued, maxQueuedBytes } = this.folders;
    if (this.#waiting.length >= maxQueued || this.#waitingBytes + bytes > maxQueuedBytes)
      throw new HttpError(
        429,
        'QUEUE_FULL',
        this.#waiting.length >= maxQueued
          ? `${this.#waiting.length} runs are already waiting (the most this server queues).`
          : 'The waiting runs already hold as much workflow data as this server queues.',
        'Wait for queued runs to finish, or cancel some, then submit again.',
        undefined,
        { 'retry-after': '5' },
      );
  }

  /**
   * Validates and queues a workflow (`bytes`: the size of the JSON it came as; `memoryBudgetBytes`: a
   * smaller budget than the server's, if the client wants one). Throws a 400 `WORKFLOW_INVALID` listing
   * every problem, a 400 `MEMORY_BUDGET_EXCEEDED` when a node is known to need more than the budget before
   * anything runs, and a 429 `QUEUE_FULL` when the waiting runs already hold as many runs or bytes as
   * allowed.
   */
  submit(document: unknown, options: SubmitOptions = {}): RunSnapshot {
    const bytes = options.bytes ?? 0;
    this.checkRoom(bytes);
    const prepared = validateSubmission(this.runtime, document, options);
    const budget = Math.min(
      options.memoryBudgetBytes ?? this.folders.memoryBudgetBytes,
      this.folders.memoryBudgetBytes,
    );
    const tooBig = this.runtime.checkMemory(prepared, budget);
    if (tooBig)
      throw new HttpError(
        400,
        'MEMORY_BUDGET_EXCEEDED',
        this.folders.redactor.text(tooBig.message),
        tooBig.hint === undefined ? undefined : this.folders.redactor.text(tooBig.hint),
      );
    const name =
      typeof (document as { name?: unknown }).name === 'string'
        ? (document as { name: string }).name.slice(0, MAX_NAME_LENGTH)
        : undefined;
    const priority = checkPriority(options.priority);
    const front = options.front === true;
    const client = options.client ?? 'local';
    const snapshot = queuedRun(randomUUID(), name, prepared.order, Date.now(), [...(prepared.skipped?.keys() ?? [])]);
    Object.assign(snapshot, {
      priority,
      client,
      ...(front ? { front } : {}),
      ...(options.targets ? { targets: [...options.targets] } : {}),
    });

    const run: QueuedRun = {
      snapshot,
      prepared,
      controller: new AbortController(),
      bytes,
      budget,
      rank: { priority, front, round: front ? 0 : this.#fair.assign(client, priority), seq: ++this.#seq },
      workflow: prepared.workflow,
    };
    this.#runs.set(run.snapshot.id, run);
    const at = this.#waiting.findIndex((w) => compareQueued(run.rank, w.rank) < 0);
    this.#waiting.splice(at < 0 ? this.#waiting.length : at, 0, run);
    this.#waitingBytes += bytes;

    this.#broadcast({ kind: 'run', run: run.snapshot });
    this.#broadcastQueue();
    // Start it once the caller has answered: starting a run does synchronous work (cache keys, the first
    // nodes) that would otherwise hold back the reply, and with it the client's progress display.
    setImmediate(() => this.#pump());
    return run.snapshot;
  }

  /** Ids of the waiting runs, in the order they will start. */
  queue(): string[] {
    return this.#waiting.map((r) => r.snapshot.id);
  }

  /** Moves a waiting run to the front of the queue ("run next"). 409 when it is not waiting. */
  runNext(id: string): RunSnapshot {
    const run = this.#runs.get(this.get(id).id)!;
    const index = this.#waiting.indexOf(run);
    if (index < 0)
      throw new HttpError(409, 'RUN_NOT_QUEUED', `Run "${id}" is not waiting in the queue (${run.snapshot.status}).`);
    this.#waiting.splice(index, 1);
    // Ahead of every waiting run, front ones included: as if it had just been queued with `front`.
    run.rank = { ...run.rank, front: true, round: 0, seq: ++this.#seq };
    run.snapshot.front = true;
    this.#waiting.unshift(run);
    this.#broadcast({ kind: 'run', run: run.snapshot });
    this.#broadcastQueue();
    return run.snapshot;
  }

  /** A run's thumbnail (its last preview), if it made one. */
  thumbnail(id: string): WirePreview | undefined {
    return this.#runs.get(this.get(id).id)!.thumbnail;
  }

  /**
   * Every remembered run as the live snapshot sends it: finished runs without their nodes' previews (a
   * hundred of them would make every connect heavy; a client fetches `GET /api/runs/:id` for the one it
   * shows), unfinished ones whole.
   */
  overview(): RunSnapshot[] {
    return this.list().map((run) => {
      if (!isFinished(run) || !Object.values(run.nodes).some((n) => n.preview)) return run;
      const nodes = Object.fromEntries(
        Object.entries(run.nodes).map(([id, { preview: _preview, ...rest }]) => [id, rest]),
      );
      return { ...run, nodes };
    });
  }

  /** A run's current state. */
  get(id: string): RunSnapshot {
    const run = this.#runs.get(id);
    if (!run)
      throw new HttpError(
        404,
        'RUN_NOT_FOUND',
        `No run "${id}".`,
        `The server keeps the last ${this.folders.keepFinished} finished runs (across restarts); older ones are forgotten.`,
      );
    return run.snapshot;
  }

  /** Every remembered run, oldest first. */
  list(): RunSnapshot[] {
    return [...this.#runs.values()].map((r) => r.snapshot);
  }

  /** A page of jobs; waiting ones in the order they will run. */
  jobs(query: JobQuery): JobPage {
    return listJobs(this.list(), query, (s) => this.#runs.get(s.id)?.rank);
  }

  /** One job with the workflow it runs (migrated, defaults filled). */
  job(id: string): JobDetail {
    const snapshot = this.get(id);
    // A finished run keeps only its snapshot in memory: its workflow is read back from the history.
    const run = this.#runs.get(id)!;
    const workflow = run.prepared?.workflow ?? run.workflow ?? this.history?.workflowOf(id);
    return jobDetail(snapshot, workflow, this.list(), (s) => this.#runs.get(s.id)?.rank);
  }

  /** This process is the only worker. */
  workers(): WorkerInfo[] {
    return [
      {
        ...this.#self(),
        pid: process.pid,
        concurrency: 1,
        running: this.#current ? [this.#current.run.snapshot.id] : [],
        packages: this.runtime.discovery.loaded.map(
          (p) => `${p.name}${p.source.version ? `@${p.source.version}` : ''}`,
        ),
        startedAt: this.#startedAt,
        lastSeen: Date.now(),
      },
    ];
  }

  #self(): RunWorker {
    return { id: 'embedded', name: 'embedded', host: hostname(), device: this.#device() };
  }

  #device(): string {
    return this.folders.device ?? 'cpu';
  }

  /** Cancels a queued or running run. 409 when it has already ended. */
  cancel(id: string): RunSnapshot {
    this.get(id);
    const run = this.#runs.get(id)!;
    if (isFinished(run.snapshot))
      throw new HttpError(409, 'RUN_FINISHED', `Run "${id}" has already ended (${run.snapshot.status}).`);
    const index = this.#waiting.indexOf(run);
    if (index >= 0) {
      this.#waiting.splice(index, 1);
      this.#waitingBytes -= run.bytes;
      this.#apply(run, { type: 'run:cancelled', runId: id, ms: 0 });
      this.#broadcastQueue();
    } else {
      run.controller.abort(new DOMException('Cancelled from the editor.', 'AbortError'));
    }
    return run.snapshot;
  }

  /** Listens to every run's changes; returns the unsubscribe function. */
  subscribe(listener: (message: ServerMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Cancels everything and waits for the running run to stop. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waitingBytes = 0;
    for (const run of this.#waiting.splice(0))
      this.#apply(run, { type: 'run:cancelled', runId: run.snapshot.id, ms: 0 });
    const current = this.#current;
    if (current) {
      current.run.controller.abort(new DOMException('The server is shutting down.', 'AbortError'));
      await current.done;
    }
    this.#listeners.clear();
  }

  #pump(): void {
    if (this.#current || this.#closed) return;
    const run = this.#waiting.shift();
    if (!run) return;
    this.#waitingBytes -= run.bytes;
    this.#broadcastQueue();
    const prepared = run.prepared!;
    if (!run.rank.front) this.#fair.started(run.rank.priority, run.rank.round);
    Object.assign(run.snapshot, { worker: this.#self(), attempt: 1 });

    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (!isFinished(run.snapshot)) {
        // The observable completed without a terminal event (should not happen): do not leave it "running".
        this.#apply(run, {
          type: 'run:error',
          runId: run.snapshot.id,
          error: { code: 'RUN_ENDED', message: 'The run ended without a result.' },
          ms: 0,
        });
      }
      this.#current = undefined;
      finish();
      this.#pump();
    };
    const current: { run: QueuedRun; subscription?: Subscription; done: Promise<void> } = { run, done };
    // Set before subscribing: a graph with nothing to do may complete inside `subscribe`, and `end` clears it.
    this.#current = current;
    const fail = (error: unknown) =>
      this.#apply(run, {
        type: 'run:error',
        runId: run.snapshot.id,
        error: { code: 'RUN_FAILED', message: error instanceof Error ? error.message : String(error) },
        ms: 0,
      });
    try {
      current.subscription = this.runtime
        .run(prepared, {
          signal: run.controller.signal,
          outputFolder: this.folders.outputFolder,
          allowedFolders: this.folders.allowedFolders,
          runId: run.snapshot.id,
          memoryBudgetBytes: run.budget,
        })
        .subscribe({
          next: (event) => this.#apply(run, this.#toWire(event)),
          error: (error: unknown) => {
            fail(error);
            end();
          },
          complete: end,
        });
    } catch (error) {
      fail(error);
      end();
    }
  }

  #apply(run: QueuedRun, raw: WireEvent): void {
    const event = this.#redact(raw);
    if (event.type === 'node:progress' && event.preview) run.thumbnail = event.preview;
    const statusChanged = applyEvent(run.snapshot, event);
    if (statusChanged && isFinished(run.snapshot) && run.thumbnail)
      run.snapshot.thumbnail = `/api/runs/${run.snapshot.id}/thumbnail`;
    this.#broadcast({ kind: 'event', runId: run.snapshot.id, event });
    if (statusChanged && isFinished(run.snapshot)) {
      this.history?.save({
        snapshot: run.snapshot,
        workflow: run.workflow,
        ...(run.thumbnail ? { thumbnail: run.thumbnail } : {}),
      });
      // The history on disk has it now; without a history it stays for as long as the run is remembered.
      if (this.history) run.workflow = undefined;
    }
    if (isFinished(run.snapshot) && run.prepared !== undefined) {
      // A finished run keeps its snapshot only: the prepared graph (with whatever the workflow carried) goes.
      run.prepared = undefined;
      this.#forgetOld();
    }
    if (statusChanged) this.#broadcast({ kind: 'run', run: run.snapshot });
  }

  /** Server paths in messages, hints, warnings and output values become relative or basenames. */
  #redact(event: WireEvent): WireEvent {
    return redactEvent(event, this.folders.redactor);
  }

  #broadcastQueue(): void {
    this.#broadcast({ kind: 'queue', queue: this.queue() });
  }

  #broadcast(message: ServerMessage): void {
    for (const listener of this.#listeners) {
      try {
        listener(message);
      } catch {
        // One broken client must not stop the others from hearing about the run.
      }
    }
  }

  /** Preview bytes to base64; server file paths to `/api/outputs/...` URLs (paths never leave the server). */
  #toWire(event: RunEvent): WireEvent {
    if (event.type === 'node:progress' && event.preview) return progressToWire(event);
    if (event.type === 'run:done') return { ...event, files: event.files.flatMap((f) => this.#url(f) ?? []) };
    if (event.type === 'node:done') {
      const outputs = Object.fromEntries(
        Object.entries(event.outputs).map(([name, o]) => [
          name,
          o.kind === 'value' && typeof o.value === 'string' ? { ...o, value: this.#url(o.value) ?? o.value } : o,
        ]),
      );
      return { ...event, outputs };
    }
    return event as WireEvent;
  }

  #url(path: string): string | undefined {
    if (!isInside(path, this.folders.outputFolder) || path === this.folders.outputFolder) return undefined;
    return `/api/outputs/${relative(this.folders.outputFolder, path).split(sep).map(encodeURIComponent).join('/')}`;
  }

  #forgetOld(): void {
    const finished = [...this.#runs.values()].filter((r) => isFinished(r.snapshot));
    const ids = finished.slice(0, Math.max(0, finished.length - this.folders.keepFinished)).map((r) => r.snapshot.id);
    if (!ids.length) return;
    for (const id of ids) this.#runs.delete(id);
    this.history?.delete(ids);
    this.#broadcast({ kind: 'forget', ids });
  }
}
