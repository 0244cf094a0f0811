/**
 * Executes one claimed run on a worker: fetches its inputs into the mirror, runs it with the worker's
 * runtime, and passes every event on — live to the server's clients (pub/sub), folded into the run's
 * record at state changes, and, for files a node wrote, uploaded to the server before the event goes out
 * (so the URL it carries already answers). When the run is done its files are committed, then the run is
 * finished. Events go through one ordered chain, so clients see them in the scheduler's order.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import {
  KinegraphError,
  nodeTypesNeeded,
  type PreparedWorkflow,
  type RunEvent,
  type Runtime,
  serializeError,
  type Workflow,
} from '@kinegraph/core';
import type { Redis } from 'ioredis';
import { type PathRedactor, redactEvent } from '../server/redact.js';
import { progressToWire } from '../server/wire-progress.js';
import type { RunSnapshot, RunWorker, WireEvent } from '../shared/protocol.js';
import { applyEvent } from '../shared/run-state.js';
import { encodeLive, type LiveMessage } from './channel.js';
import type { FileMirror } from './file-mirror.js';
import type { QueueKeys } from './keys.js';
import { QUEUE_TIMINGS } from './limits.js';
import { sha256 } from './outputs.js';
import type { ServerClient } from './server-client.js';
import { TransferError } from './server-client.js';
import type { ClaimResult, RunDoc, RunStore } from './store.js';

/** Why a run was stopped before its end. */
export type StopReason =
  | { kind: 'cancel' }
  | { kind: 'shutdown' }
  | { kind: 'lost' }
  | { kind: 'transfer'; error: TransferError };

/** How a run ended on this worker. */
export type Outcome =
  | 'done'
  | 'error'
  | 'cancelled'
  /** Handed back to the queue: it runs again, here or elsewhere. */
  | { released: StopReason | { kind: 'failed'; error: Error } }
  /** Another worker holds it now: nothing this worker did counts. */
  | 'lost';

export interface ExecutorContext {
  readonly runtime: Runtime;
  readonly store: RunStore;
  readonly redis: Redis;
  readonly keys: QueueKeys;
  readonly server: ServerClient;
  readonly mirror: FileMirror;
  readonly self: RunWorker;
  readonly claimMs: number;
  /** Where runs write before their files go to the server. */
  readonly scratch: string;
  /** Worker paths in messages become the server's (`inputs/a.png`) or basenames: they reach every client. */
  readonly redactor: PathRedactor;
}

/** Stops the run; `reason` says why (the executor decides what becomes of it). */
export interface RunControl {
  readonly controller: AbortController;
  reason?: StopReason;
}

export async function executeRun(
  ctx: ExecutorContext,
  runId: string,
  token: string,
  claim: Extract<ClaimResult, { kind: 'ok' }>,
  control: RunControl,
): Promise<Outcome> {
  const snapshot = restart(claim.state, ctx.self, claim.attempt);
  const live = new LivePublisher(ctx, runId, token, claim.attempt, snapshot);
  live.run();
  // An earlier attempt committed this run's outputs and died before finishing it: they are the result.
  if (claim.committed) {
    snapshot.files = claim.committed.files.map((f) => outputUrl(runId, f));
    return live.end({ ...snapshot, status: 'done', endedAt: Date.now(), ms: 0 });
  }
  const outputFolder = `${ctx.scratch}/${runId}-${claim.attempt}`;
  try {
    const prepared = await prepare(ctx, runId, token, claim.doc);
    if ('error' in prepared) return await live.fail(prepared.error);
    await mkdir(outputFolder, { recursive: true });
    const events = ctx.runtime.run(prepared.prepared, {
      signal: control.controller.signal,
      outputFolder,
      allowedFolders: ctx.mirror.folders(),
      runId,
      // The client may ask for less than the worker's own budget, never more.
      ...(claim.doc.memoryBudgetBytes !== undefined
        ? { memoryBudgetBytes: Math.min(claim.doc.memoryBudgetBytes, ctx.runtime.memoryBudget()) }
        : {}),
    });
    const files = new Uploads(ctx, runId, token, outputFolder, control);
    let chain = Promise.resolve();
    let last: Extract<WireEvent, { type: 'run:done' | 'run:error' | 'run:cancelled' }> | undefined;
    await new Promise<void>((resolve) => {
      events.subscribe({
        next: (event) => {
          chain = chain.then(async () => {
            if (control.reason && control.reason.kind !== 'cancel') return;
            const wire = redactEvent(await toWire(runId, outputFolder, event, files), ctx.redactor);
            if (wire.type === 'run:done' || wire.type === 'run:error' || wire.type === 'run:cancelled')
              last = wire as typeof last;
            else live.event(wire);
          });
        },
        error: (error: unknown) => {
          last = { type: 'run:error', runId, error: serializeError(error), ms: 0 };
          resolve();
        },
        complete: () => resolve(),
      });
    });
    await chain;
    const reason = control.reason;
    if (reason && reason.kind !== 'cancel') return await release(live, reason);
    if (!last) return await live.fail({ code: 'RUN_ENDED', message: 'The run ended without a result.' });
    if (last.type === 'run:done') {
      const answer = await ctx.server.commit(runId, token, await files.all(last.files));
      return await live.finish({ ...last, files: answer.files });
    }
    return await live.finish(last);
  } catch (error) {
    if (error instanceof TransferError && error.code === 'CLAIM_LOST') return 'lost';
    if (error instanceof TransferError && error.retriable) return await release(live, { kind: 'transfer', error });
    // A coded error (a refused output, an input that changed) would only recur elsewhere: the run ends.
    if (error instanceof KinegraphError) return await live.fail(serializeError(error));
    // Anything else (a full disk, a bug) may be this machine's: the run is handed back for another attempt.
    return await release(live, { kind: 'failed', error: error as Error });
  } finally {
    await rm(outputFolder, { recursive: true, force: true });
  }
}

async function release(live: LivePublisher, reason: StopReason | { kind: 'failed'; error: Error }): Promise<Outcome> {
  if (reason.kind === 'lost') return 'lost';
  return (await live.release()) ? { released: reason } : 'lost';
}

/** The state a new attempt starts from: the queued run, nodes pending again, this worker on it. */
function restart(state: RunSnapshot, self: RunWorker, attempt: number): RunSnapshot {
  const nodes: RunSnapshot['nodes'] = {};
  for (const id of state.order) nodes[id] = { status: 'pending', progress: 0 };
  // Nodes that do not run (bypassed, muted) stay as the server marked them.
  for (const [id, node] of Object.entries(state.nodes)) if (node.status === 'skipped') nodes[id] = node;
  const { error: _e, ms: _m, endedAt: _x, ...rest } = state;
  return {
    ...rest,
    status: 'running',
    startedAt: Date.now(),
    nodes,
    files: [],
    executed: [],
    cached: [],
    worker: self,
    attempt,
  };
}

/** Fetches the inputs, points absolute params at the mirror, validates with this worker's plugins. */
async function prepare(
  ctx: ExecutorContext,
  runId: string,
  token: string,
  doc: RunDoc,
): Promise<{ prepared: PreparedWorkflow } | { error: { code: string; message: string; hint?: string } }> {
  const workflow = structuredClone(doc.workflow) as Workflow;
  const missing = missingPlugins(ctx.runtime, workflow);
  if (missing) return { error: missing };
  for (const [index, input] of doc.inputs.files.entries())
    await ctx.mirror.provide(input, (dest) => ctx.server.fetchInput(runId, token, index, input, dest));
  for (const param of doc.inputs.absolute)
    setPointer(workflow, param.pointer, ctx.mirror.pathOf(param.folder, param.path));
  const result = ctx.runtime.validate(workflow, [], doc.targets ? { targets: doc.targets } : {});
  if (result.ok) return { prepared: result.prepared };
  const first = result.issues.slice(0, 3).map((i) => `${i.code} at ${i.nodeId ?? i.pointer}: ${i.message}`);
  return {
    error: {
      code: 'WORKER_VALIDATION_FAILED',
      message: `Worker ${ctx.self.name} cannot run this workflow: ${first.join('; ')}${result.issues.length > 3 ? '; …' : ''}`,
      hint: 'The worker\u2019s plugins differ from the server\u2019s: install the same versions on both.',
    },
  };
}

/** `WORKER_PLUGIN_MISSING` naming the packages this worker lacks, or undefined. */
export function missingPlugins(runtime: Runtime, workflow: Workflow) {
  const provided = (workflow.metadata?.nodeTypes ?? {}) as Record<string, { package: string; version?: string }>;
  const types = nodeTypesNeeded(workflow).filter((t) => !runtime.registry.get(t) && !runtime.registry.blueprint(t));
  if (!types.length) return undefined;
  const packages = [
    ...new Set(
      types.map((t) => {
        const p = provided[t];
        return p ? `${p.package}${p.version ? `@${p.version}` : ''}` : `(unknown package of ${t})`;
      }),
    ),
  ];
  return {
    code: 'WORKER_PLUGIN_MISSING',
    message: `No worker can run this workflow: it needs ${packages.join(', ')} (node type${types.length > 1 ? 's' : ''} ${types.join(', ')}), which ${packages.length > 1 ? 'are' : 'is'} not installed on the workers.`,
    hint: `Install ${packages.join(' ')} on the workers (npm install in the folder each \`kinegraph worker\` runs in), then queue the run again.`,
  };
}

function setPointer(document: unknown, pointer: string, value: string): void {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let target = document as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) target = target[part] as Record<string, unknown>;
  target[parts.at(-1)!] = value;
}

/** Output URL of a file of run `runId` (path relative to its folder). */
export function outputUrl(runId: string, path: string): string {
  return `/api/outputs/${[runId, ...path.split('/')].map(encodeURIComponent).join('/')}`;
}

function localToUrl(runId: string, outputFolder: string, file: string): string | undefined {
  const rel = relative(outputFolder, file);
  if (!rel || rel.startsWith('..')) return undefined;
  return outputUrl(runId, rel.split(sep).join('/'));
}

/**
 * A scheduler event as it travels to clients (previews in base64, file paths as URLs); the files a node
 * returns are uploaded first, so the URL answers when the event arrives.
 */
async function toWire(runId: string, outputFolder: string, event: RunEvent, files: Uploads): Promise<WireEvent> {
  if (event.type === 'node:progress' && event.preview) return progressToWire(event);
  if (event.type === 'node:done') {
    const outputs: Record<string, unknown> = {};
    for (const [name, o] of Object.entries(event.outputs)) {
      const url =
        o.kind === 'value' && typeof o.value === 'string' ? localToUrl(runId, outputFolder, o.value) : undefined;
      if (url) await files.upload((o as { value: string }).value);
      outputs[name] = url ? { ...o, value: url } : o;
    }
    return { ...event, outputs } as WireEvent;
  }
  if (event.type === 'run:done')
    return { ...event, files: event.files.flatMap((f) => localToUrl(runId, outputFolder, f) ?? []) };
  return event as WireEvent;
}

/** A run's output files on their way to the server: each uploaded once. */
class Uploads {
  readonly #done = new Set<string>();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly runId: string,
    private readonly token: string,
    private readonly folder: string,
    private readonly control: RunControl,
  ) {}

  /** Uploads a file the run wrote; on failure stops the run (what becomes of it depends on why). */
  async upload(file: string): Promise<void> {
    const path = relative(this.folder, file).split(sep).join('/');
    if (this.#done.has(path)) return;
    try {
      await this.ctx.server.upload(this.runId, this.token, path, file);
      this.#done.add(path);
    } catch (error) {
      if (error instanceof TransferError) {
        this.control.reason ??= error.code === 'CLAIM_LOST' ? { kind: 'lost' } : { kind: 'transfer', error };
        this.control.controller.abort(error);
      }
      throw error;
    }
  }

  /** Uploads what is left of the run's files (URLs of run:done) and describes them all for the commit. */
  async all(urls: readonly string[]) {
    const prefix = `${outputUrl(this.runId, '').replace(/\/?$/, '')}/`;
    const out = [];
    for (const url of urls) {
      const path = url.slice(prefix.length).split('/').map(decodeURIComponent).join('/');
      const file = `${this.folder}/${path}`;
      await this.upload(file);
      const info = await stat(file);
      out.push({ path, size: info.size, sha256: await sha256(file) });
    }
    return out;
  }
}

/**
 * Publishes a run's events live, folds them into its state, and writes the state to the run's record:
 * state changes within {@link QUEUE_TIMINGS.statePersistMs}, progress within
 * {@link QUEUE_TIMINGS.progressPersistMs}, the end at once (a short run is written twice: start and end).
 */
class LivePublisher {
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #due = 0;
  #writing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly runId: string,
    private readonly token: string,
    private readonly attempt: number,
    readonly snapshot: RunSnapshot,
  ) {}

  /** The attempt starts: the whole state goes out. */
  run(): void {
    this.#publish({ kind: 'run', runId: this.runId, attempt: this.attempt, run: this.snapshot });
    void this.#persist().catch(() => undefined);
  }

  event(event: WireEvent): void {
    applyEvent(this.snapshot, event);
    const progress = event.type === 'node:progress';
    // Progress is worth nothing once stale: while Redis is unreachable it is dropped, not queued.
    if (!progress || this.ctx.redis.status === 'ready')
      this.#publish({ kind: 'event', runId: this.runId, attempt: this.attempt, event });
    this.#schedule(progress ? QUEUE_TIMINGS.progressPersistMs : QUEUE_TIMINGS.statePersistMs);
  }

  /** Writes the state within `delay` ms, together with whatever else changes meanwhile. */
  #schedule(delay: number): void {
    this.#dirty = true;
    const due = Date.now() + delay;
    if (this.#timer && this.#due <= due) return;
    clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#dirty) void this.#persist().catch(() => undefined);
    }, delay);
  }

  /** Ends the run with its terminal event: recorded first, then told to clients. */
  async finish(event: Extract<WireEvent, { type: 'run:done' | 'run:error' | 'run:cancelled' }>): Promise<Outcome> {
    applyEvent(this.snapshot, event);
    const outcome = await this.end(this.snapshot);
    if (outcome !== 'lost') this.#publish({ kind: 'event', runId: this.runId, attempt: this.attempt, event });
    return outcome;
  }

  /** Ends the run with an error that no node raised (a missing plugin, a changed input). */
  fail(error: { code: string; message: string; hint?: string }): Promise<Outcome> {
    return this.finish({ type: 'run:error', runId: this.runId, error, ms: 0 });
  }

  async end(state: RunSnapshot): Promise<Outcome> {
    this.#stopTimer();
    await this.#writing.catch(() => undefined);
    const ok = await this.ctx.store.finish(this.runId, this.token, this.ctx.claimMs, state);
    if (!ok) return 'lost';
    this.#publish({ kind: 'run', runId: this.runId, attempt: this.attempt, run: state });
    return state.status === 'done' ? 'done' : state.status === 'cancelled' ? 'cancelled' : 'error';
  }

  /** Hands the run back to the queue (state: waiting again). */
  async release(): Promise<boolean> {
    this.#stopTimer();
    await this.#writing.catch(() => undefined);
    const state: RunSnapshot = { ...this.snapshot, status: 'queued' };
    const ok = await this.ctx.store.release(this.runId, this.token, this.ctx.claimMs, state);
    if (ok) this.#publish({ kind: 'run', runId: this.runId, attempt: this.attempt, run: state });
    return ok;
  }

  #persist(): Promise<unknown> {
    this.#dirty = false;
    const state = structuredClone(this.snapshot);
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(() => this.ctx.store.update(this.runId, this.token, this.ctx.claimMs, state));
    return this.#writing;
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #publish(message: LiveMessage): void {
    this.ctx.redis.publish(this.ctx.keys.live, encodeLive(message)).catch(() => undefined);
  }
}
