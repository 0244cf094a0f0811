/**
 * The run queue: one Runtime (so its output cache makes re-runs incremental across submissions), runs
 * executed one at a time in submission order, and for each run a snapshot that every event folds into, so a
 * client that connects late sees where things are without a replay.
 */
import { randomUUID } from 'node:crypto';
import { relative, sep } from 'node:path';
import type { PreparedWorkflow, RunEvent, Runtime } from '@kinegraph/core';
import type { Subscription } from 'rxjs';
import type { RunSnapshot, ServerMessage, WireEvent, WirePreview } from '../shared/protocol.js';
import { applyEvent, isFinished, queuedRun } from '../shared/run-state.js';
import { isInside } from './files.js';
import type { HistoryStore } from './history-store.js';
import { HttpError } from './http.js';

/** Where runs read from and write to. */
export interface RunFolders {
  readonly outputFolder: string;
  readonly allowedFolders: readonly string[];
}

interface QueuedRun {
  readonly snapshot: RunSnapshot;
  /** Undefined for runs read back from the history (they are finished). */
  readonly prepared?: PreparedWorkflow;
  readonly controller: AbortController;
  /** The document as submitted: what "open this run" puts back on the canvas. */
  readonly workflow: unknown;
  /** The latest preview any of its nodes made. */
  thumbnail?: WirePreview;
}

/** How a workflow is queued. */
export interface SubmitOptions {
  /** Put it at the head of the queue ("run next") instead of the end. */
  readonly front?: boolean;
}

/** How many finished runs are remembered (oldest forgotten first). */
const KEEP_FINISHED = 100;

/** Queues and executes runs, and tells listeners about every change. */
export class RunQueue {
  readonly #runs = new Map<string, QueuedRun>();
  readonly #waiting: QueuedRun[] = [];
  readonly #listeners = new Set<(message: ServerMessage) => void>();
  #current: { run: QueuedRun; subscription?: Subscription; done: Promise<void> } | undefined;
  #closed = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly folders: RunFolders,
    private readonly history?: HistoryStore,
  ) {
    // Finished runs of earlier sessions, so the history survives a restart.
    for (const stored of history?.load() ?? []) {
      const run: QueuedRun = {
        snapshot: stored.snapshot,
        controller: new AbortController(),
        workflow: stored.workflow,
        ...(stored.thumbnail ? { thumbnail: stored.thumbnail } : {}),
      };
      this.#runs.set(stored.snapshot.id, run);
    }
    this.#forgetOld();
  }

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
    const run: QueuedRun = {
      snapshot: queuedRun(randomUUID(), name, result.prepared.order),
      prepared: result.prepared,
      controller: new AbortController(),
      workflow: structuredClone(document),
    };
    this.#runs.set(run.snapshot.id, run);
    if (options.front) this.#waiting.unshift(run);
    else this.#waiting.push(run);
    this.#forgetOld();
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

  /** Moves a waiting run to the head of the queue. 409 when it is not waiting. */
  runNext(id: string): RunSnapshot {
    const run = this.#runs.get(this.get(id).id)!;
    const index = this.#waiting.indexOf(run);
    if (index < 0)
      throw new HttpError(409, 'RUN_NOT_QUEUED', `Run "${id}" is not waiting in the queue (${run.snapshot.status}).`);
    this.#waiting.splice(index, 1);
    this.#waiting.unshift(run);
    this.#broadcastQueue();
    return run.snapshot;
  }

  /** The workflow a run was submitted with. */
  workflowOf(id: string): unknown {
    return this.#runs.get(this.get(id).id)!.workflow;
  }

  /** A run's thumbnail (its last preview), if it made one. */
  thumbnailOf(id: string): WirePreview | undefined {
    return this.#runs.get(this.get(id).id)!.thumbnail;
  }

  /** A run's current state. */
  get(id: string): RunSnapshot {
    const run = this.#runs.get(id);
    if (!run)
      throw new HttpError(
        404,
        'RUN_NOT_FOUND',
        `No run "${id}".`,
        'The server keeps the last 100 finished runs (across restarts); older ones are forgotten.',
      );
    return run.snapshot;
  }

  /** Every remembered run, oldest first. */
  list(): RunSnapshot[] {
    return [...this.#runs.values()].map((r) => r.snapshot);
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
    if (!run?.prepared) return;
    this.#broadcastQueue();
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
    if (event.type === 'node:progress' && event.preview) run.thumbnail = event.preview;
    const statusChanged = applyEvent(run.snapshot, event);
    if (statusChanged && isFinished(run.snapshot) && run.thumbnail)
      run.snapshot.thumbnail = `/api/runs/${run.snapshot.id}/thumbnail`;
    this.#broadcast({ kind: 'event', runId: run.snapshot.id, event });
    if (statusChanged) this.#broadcast({ kind: 'run', run: run.snapshot });
    if (statusChanged && isFinished(run.snapshot))
      this.history?.save({
        snapshot: run.snapshot,
        workflow: run.workflow,
        ...(run.thumbnail ? { thumbnail: run.thumbnail } : {}),
      });
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
    const ids = finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)).map((r) => r.snapshot.id);
    if (!ids.length) return;
    for (const id of ids) this.#runs.delete(id);
    this.history?.delete(ids);
    this.#broadcast({ kind: 'forget', ids });
  }
}
