import type { Observable } from 'rxjs';
import { installStrayErrorHandlers } from './host/stray-error-handlers.js';
import { type DiscoveryReport, findPlugins, loadPlugins } from './plugins/discover.js';
import { loadGrants } from './plugins/grants.js';
import type { IsolatedPlugins } from './plugins/isolated-plugins.js';
import { withProvenance } from './registry/describe.js';
import { readEmbeddedWorkflow } from './registry/embedded-workflow.js';
import { NodeRegistry } from './registry/registry.js';
import type { RunEvent } from './scheduler/events.js';
import { defaultMemoryBudget, planMemory } from './scheduler/memory-budget.js';
import { OutputCache } from './scheduler/output-cache.js';
import { executeWorkflow } from './scheduler/scheduler.js';
import type { KinegraphPlugin } from './sdk/plugin.js';
import type { DeviceReport, DeviceRequest, TensorStore } from './tensor/types.js';
import { KinegraphError } from './util/errors.js';
import { type PreparedWorkflow, type ValidationResult, validateWorkflow } from './validate/validate.js';
import { createTensorStore, type ManagedTensorStore } from './worker/client.js';
import type { ValidationIssue } from './workflow/issue.js';
import { applyOverrides, type ParamOverride } from './workflow/overrides.js';
import type { Workflow } from './workflow/schema.js';

/** How to set up a {@link Runtime}. */
export interface RuntimeOptions {
  /** Device for tensors and models. Default `cpu`; `auto` picks the best available. */
  readonly device?: DeviceRequest;
  /** ORT intra-op threads in the inference worker. */
  readonly threads?: number;
  /** Memory budget of the output cache in bytes (default 1 GiB; 0 disables incremental re-runs). */
  readonly cacheBudgetBytes?: number;
  /** Plugins registered in code, before discovered ones. */
  readonly plugins?: readonly KinegraphPlugin[];
  /**
   * Discover plugins in this project folder (its own `plugins/` and `node_modules`, never a folder above
   * it); `false` skips discovery. Discovered plugins run isolated with the grants of `grantsFile`
   * (default `<cwd>/kinegraph.grants.json`); `isolate: false` loads them into this process instead, with
   * all of its rights (for plugins you wrote, and benchmarks).
   */
  readonly discover?:
    | {
        readonly cwd: string;
        readonly pluginFolders?: readonly string[];
        readonly grantsFile?: string;
        readonly isolate?: boolean;
      }
    | false;
  /** Where the output of isolated plugins' processes goes, a line at a time (default: stderr). */
  readonly pluginLog?: (line: string) => void;
  /** Time limit per node, ms: a node that hangs fails its run with NODE_TIMEOUT. */
  readonly nodeTimeoutMs?: number;
  /**
   * Keep the process alive when plugin code throws outside its node's promise (a throw in a timer):
   * such errors fail the runs in progress with NODE_UNCAUGHT_ERROR instead. For long-lived hosts (the
   * CLI and the server turn it on).
   */
  readonly catchStrayErrors?: boolean;
  /**
   * Start the inference worker at once, while plugins are discovered, instead of on first use: for hosts
   * that are about to run a workflow (`kinegraph run`), so loading ONNX Runtime overlaps the start-up.
   */
  readonly startWorker?: boolean;
  /**
   * Memory budget of each run, bytes, unless the run sets its own (see `NodeDefinition.memory`). Default:
   * half the memory this process may use (its cgroup's limit, else the machine's RAM).
   */
  readonly memoryBudgetBytes?: number;
}

/** Options of one run. */
export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly outputFolder: string;
  readonly allowedFolders: readonly string[];
  readonly overrides?: readonly ParamOverride[];
  readonly concurrency?: number;
  readonly runId?: string;
  /** Whether nodes should make previews (see `NodeContext.previews`). Default true; `kinegraph run` turns it off. */
  readonly previews?: boolean;
  /** This run's memory budget, bytes; default the runtime's (`RuntimeOptions.memoryBudgetBytes`). */
  readonly memoryBudgetBytes?: number;
}

/** Thrown by {@link Runtime.run} for a workflow that does not validate; `issues` lists every problem. */
export class WorkflowInvalidError extends KinegraphError {
  constructor(readonly issues: ValidationIssue[]) {
    super('WORKFLOW_INVALID', `The workflow has ${issues.length} problem${issues.length === 1 ? '' : 's'}.`, {
      hint: 'Fix the listed problems; `kinegraph validate` lists them too.',
    });
  }
}

/**
 * The headless engine: a registry of node types, a tensor store on one device, and an output cache shared
 * by successive runs (so a re-run with one param changed re-executes only what depends on it). Knows
 * nothing of rendering: the CLI and the editor's server are clients of it.
 */
export class Runtime {
  readonly registry: NodeRegistry;
  readonly discovery: DiscoveryReport;
  readonly cache: OutputCache;
  #store: Promise<ManagedTensorStore> | undefined;
  readonly #isolated: IsolatedPlugins | undefined;

  private constructor(
    registry: NodeRegistry,
    discovery: DiscoveryReport,
    private readonly options: RuntimeOptions,
    isolated: IsolatedPlugins | undefined,
  ) {
    this.registry = registry;
    this.discovery = discovery;
    this.#isolated = isolated;
    this.cache = new OutputCache(() => this.#storeIfStarted, options.cacheBudgetBytes ?? 1024 ** 3);
  }

  #storeIfStarted: TensorStore | undefined;

  /** Creates a runtime, registering code plugins and discovering installed ones. */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const early = options.startWorker ? Runtime.#startStore(options) : undefined;
    try {
      const runtime = await Runtime.#create(options);
      if (early) runtime.#adopt(early);
      return runtime;
    } catch (error) {
      // Closed before the error reaches the host, which may exit next: see `close()`.
      await early?.then(
        (store) => store.close(),
        () => undefined,
      );
      throw error;
    }
  }

  static async #create(options: RuntimeOptions): Promise<Runtime> {
    const registry = new NodeRegistry();
    const failed: DiscoveryReport['failed'] = [];
    const loaded: DiscoveryReport['loaded'] = [];
    for (const plugin of options.plugins ?? []) {
      registry.register(plugin);
      loaded.push({
        name: plugin.name,
        nodeTypes: (plugin.nodes ?? []).flatMap((n) => (n ? [n.type] : [])),
        source: { package: plugin.name },
        origin: 'node_modules',
        isolation: { mode: 'in-process', reason: 'registered in code' },
      });
    }
    let isolated: IsolatedPlugins | undefined;
    if (options.discover) {
      const { cwd, pluginFolders, grantsFile, isolate } = options.discover;
      const report = await loadPlugins(await findPlugins(cwd, pluginFolders), registry, {
        grants: loadGrants(cwd, grantsFile),
        ...(isolate !== undefined ? { isolate } : {}),
        ...(options.pluginLog ? { log: options.pluginLog } : {}),
      });
      loaded.push(...report.loaded);
      failed.push(...report.failed);
      isolated = report.isolated;
    }
    if (options.catchStrayErrors) installStrayErrorHandlers();
    return new Runtime(registry, { loaded, failed }, options, isolated);
  }

  static #startStore(options: RuntimeOptions): Promise<ManagedTensorStore> {
    const pending = createTensorStore({
      device: options.device ?? 'cpu',
      ...(options.threads ? { threads: options.threads } : {}),
    });
    pending.catch(() => undefined); // reported by store() when asked for
    return pending;
  }

  #adopt(starting: Promise<ManagedTensorStore>): void {
    const pending = starting.then((store) => {
      this.#storeIfStarted = store;
      return store;
    });
    // A failed start (e.g. DEVICE_UNAVAILABLE) is not remembered, so the next run can try again.
    pending.catch(() => {
      if (this.#store === pending) this.#store = undefined;
    });
    this.#store = pending;
  }

  /** The tensor store, starting the inference worker on first use. */
  store(): Promise<TensorStore> {
    if (this.#store) return this.#store;
    this.#adopt(Runtime.#startStore(this.options));
    return this.#store!;
  }

  /**
   * The device the started store runs on, why, and its WebGPU adapter; undefined until the store has started
   * (`await runtime.store()` starts it).
   */
  deviceReport(): DeviceReport | undefined {
    const store = this.#storeIfStarted as Partial<ManagedTensorStore> | undefined;
    return store?.deviceReport?.();
  }

  /** Validates a workflow document, with optional `--set` style overrides applied first. */
  validate(document: unknown, overrides: readonly ParamOverride[] = []): ValidationResult {
    const applied = applyOverrides(document, overrides);
    const result = validateWorkflow(applied.document, this.registry);
    if (applied.issues.length) return { ok: false, issues: [...applied.issues, ...(result.ok ? [] : result.issues)] };
    if (!result.ok) return result;
    // What runs (and what outputs embed) records which package provides each node type, so a machine
    // without a plugin can say what to install.
    return {
      ...result,
      prepared: { ...result.prepared, workflow: withProvenance(result.prepared.workflow, this.registry) },
    };
  }

  /** The budget a run gets: its own, else the runtime's, else half of what the process may use. */
  memoryBudget(runBudget?: number): number {
    return runBudget ?? this.options.memoryBudgetBytes ?? defaultMemoryBudget();
  }

  /**
   * The refusal (`MEMORY_BUDGET_EXCEEDED`, naming the node) of a prepared workflow that would not fit
   * `budgetBytes` whatever it reads: a node that sizes its outputs from params alone, or from the declared
   * outputs of the nodes before it, would allocate more. `undefined` when nothing is known to be too big
   * (nodes whose sizes come from files are judged when they run).
   */
  checkMemory(prepared: PreparedWorkflow, budgetBytes = this.memoryBudget()): KinegraphError | undefined {
    try {
      return planMemory(prepared, budgetBytes);
    } catch (error) {
      return error as KinegraphError;
    }
  }

  /**
   * The workflow embedded in a file some node wrote (PNG, GIF, MP4, WebM with the built-in library), read
   * by the registered plugins' readers; `undefined` when there is none. Throws `EMBEDDED_WORKFLOW_INVALID`
   * for a damaged Kinegraph tag. Not validated: pass the result to {@link validate} or {@link run}.
   */
  readEmbeddedWorkflow(bytes: Uint8Array): Record<string, unknown> | undefined {
    return readEmbeddedWorkflow(bytes, this.registry.workflowReaders());
  }

  /**
   * Validates and runs a workflow. Throws {@link WorkflowInvalidError} (before anything runs) when it does
   * not validate; otherwise returns the run's events as a cold Observable.
   */
  run(document: unknown | PreparedWorkflow, options: RunOptions): Observable<RunEvent> {
    let prepared: PreparedWorkflow;
    if (isPrepared(document)) prepared = document;
    else {
      const result = this.validate(document, options.overrides);
      if (!result.ok) throw new WorkflowInvalidError(result.issues);
      prepared = result.prepared;
    }
    // Saved outputs embed the workflow: with the device it ran on (when the store has started), a clip made on a
    // GPU says which adapter made it.
    const device = this.deviceReport();
    if (device !== undefined) {
      const metadata = { ...prepared.workflow.metadata, device } as Workflow['metadata'];
      prepared = { ...prepared, workflow: { ...prepared.workflow, metadata } };
    }
    // Isolated plugins the workflow uses start their processes now, while the nodes before them run.
    if (this.#isolated?.size) {
      const packages = new Set([...prepared.nodes.values()].map((node) => node.registered.source.package));
      this.#isolated.prepare({ allowedFolders: options.allowedFolders, outputFolder: options.outputFolder }, packages);
    }
    return executeWorkflow(prepared, {
      store: () => this.store(),
      cache: this.cache,
      outputFolder: options.outputFolder,
      allowedFolders: options.allowedFolders,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(this.options.nodeTimeoutMs ? { nodeTimeoutMs: this.options.nodeTimeoutMs } : {}),
      ...(options.runId ? { runId: options.runId } : {}),
      ...(options.previews !== undefined ? { previews: options.previews } : {}),
      memoryBudgetBytes: this.memoryBudget(options.memoryBudgetBytes),
      deviceHint: this.#storeIfStarted?.device ?? (this.options.device === 'webgpu' ? 'webgpu' : 'cpu'),
    });
  }

  /**
   * Frees the cache and stops the processes of isolated plugins and the inference worker, once ONNX
   * Runtime has returned from the call it is in (see `ManagedTensorStore.close`). Hosts await it before
   * the process exits: exiting while the worker is inside ONNX Runtime aborts the process.
   */
  async close(): Promise<void> {
    this.cache.clear();
    await this.#isolated?.close();
    // A store that failed to start has nothing to stop.
    const store = await this.#store?.catch(() => undefined);
    this.#store = undefined;
    this.#storeIfStarted = undefined;
    await store?.close();
  }
}

function isPrepared(value: unknown): value is PreparedWorkflow {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { nodes?: unknown }).nodes instanceof Map &&
    Array.isArray((value as { order?: unknown }).order)
  );
}
