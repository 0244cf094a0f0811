/**
 * The run queue: one Runtime (so its output cache makes re-runs incremental across submissions), runs
 * executed one at a time in submission order, and for each run a snapshot that every event folds into, so a
 * client that connects late sees where things are without a replay.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { relative, sep } from 'node:path';
import type { PreparedWorkflow, RunEvent, Runtime } from '@kinegraph/core';
import type { Subscription } from 'rxjs';
import type { JobDetail, JobPage, JobQuery, RunBackend, SubmitOptions, WorkerInfo } from '../queue/backend.js';
import { checkPriority, compareQueued, FairShare, type QueueRank } from '../queue/fairness.js';
import { jobDetail, listJobs } from '../queue/jobs-query.js';
import type { RunSnapshot, RunWorker, ServerMessage, WireEvent } from '../shared/protocol.js';
import { applyEvent, isFinished, queuedRun } from '../shared/run-state.js';
import { isInside } from './files.js';
import { HttpError } from './http.js';

/** Where runs read from and write to. */
export interface RunFolders {
  readonly outputFolder: string;
  readonly allowedFolders: readonly string[];
  /** The runtime's device, as jobs report it (default `cpu`). */
  readonly device?: string;
}

interface QueuedRun {
  readonly snapshot: RunSnapshot;
  readonly prepared: PreparedWorkflow;
  readonly controller: AbortController;
  readonly rank: QueueRank;
}

/** How many finished runs are remembered (oldest forgotten first). */
const KEEP_FINISHED = 100;

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

  constructor(
    private readonly runtime: Runtime,
    private readonly folders: RunFolders,
  ) {}

  /** Validates and queues a workflow. Throws a 400 `WORKFLOW_INVALID` listing every problem. */
  submit(document: unknown, options: SubmitOptions = {}): RunSnapshot {
    if (this.#closed) throw new HttpError(503, 'SERVER_CLOSING', 'The server is shutting down.');
    const result = this.runtime.validate(document);
    if (!result.ok) {
      const n = result.issues.length;
      throw new HttpError(
        400,
        'WORKFLOW_INVALID',
        `The workflow has ${n} problem${n === 1 ? '' : 's'}.`,
        'Each issue names its node, a JSON pointer and a hint.',
        result.issues,
      );
    }
    const name =
      typeof (document as { name?: unknown }).name === 'string' ? (document as { name: string }).name : undefined;
    const priority = checkPriority(options.priority);
    const front = options.front === true;
    const client = options.client ?? 'local';
    const snapshot = queuedRun(randomUUID(), name, result.prepared.order);
    Object.assign(snapshot, { priority, client, ...(front ? { front } : {}) });
    const run: QueuedRun = {
      snapshot,
      prepared: result.prepared,
      controller: new AbortController(),
      rank: { priority, front, round: front ? 0 : this.#fair.assign(client, priority), seq: ++this.#seq },
    };
    this.#runs.set(run.snapshot.id, run);
    const at = this.#waiting.findIndex((w) => compareQueued(run.rank, w.rank) < 0);
    this.#waiting.splice(at < 0 ? this.#waiting.length : at, 0, run);
    this.#forgetOld();
    this.#broadcast({ kind: 'run', run: run.snapshot });
    this.#pump();
    return run.snapshot;
  }

  /** A run's current state. */
  get(id: string): RunSnapshot {
    const run = this.#runs.get(id);
    if (!run)
      throw new HttpError(
        404,
        'RUN_NOT_FOUND',
        `No run "${id}".`,
        'Runs are forgotten when the server restarts, and the oldest after 100 more.',
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
    return jobDetail(snapshot, this.#runs.get(id)!.prepared.workflow, this.list(), (s) => this.#runs.get(s.id)?.rank);
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
      this.#apply(run, { type: 'run:cancelled', runId: id, ms: 0 });
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
        .run(run.prepared, {
          signal: run.controller.signal,
          outputFolder: this.folders.outputFolder,
          allowedFolders: this.folders.allowedFolders,
          runId: run.snapshot.id,
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

  #apply(run: QueuedRun, event: WireEvent): void {
    const statusChanged = applyEvent(run.snapshot, event);
    this.#broadcast({ kind: 'event', runId: run.snapshot.id, event });
    if (statusChanged) this.#broadcast({ kind: 'run', run: run.snapshot });
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
    if (event.type === 'node:progress' && event.preview) {
      const { preview, ...rest } = event;
      return {
        ...rest,
        preview: {
          mime: preview.mime,
          width: preview.width,
          height: preview.height,
          data: Buffer.from(preview.data).toString('base64'),
        },
      };
    }
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
    for (const run of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)))
      this.#runs.delete(run.snapshot.id);
  }
}
