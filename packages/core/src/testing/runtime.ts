/**
 * A real {@link Runtime} for tests: the plugin or nodes under test, a source and a capture node for every port
 * type, and a scratch folder; `run` takes a few workflow nodes and returns what the run did.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import type { RunOptions, RuntimeOptions } from '../runtime.js';
import { Runtime } from '../runtime.js';
import type { AnyNodeDefinition } from '../sdk/node.js';
import type { KinegraphPlugin, PluginFactory } from '../sdk/plugin.js';
import type { TensorStoreStats } from '../tensor/types.js';
import { KinegraphError } from '../util/errors.js';
import type { ValidationResult } from '../validate/validate.js';
import { WORKFLOW_FORMAT } from '../workflow/schema.js';
import { expectNoLeaks } from './leaks.js';
import type { TestNodeTypes, TestTables } from './nodes.js';
import { isCaptureMarker, isSourceMarker, testNodesPlugin } from './nodes.js';
import { TestRun } from './run.js';
import { valueKey } from './values.js';

/**
 * A test's workflow nodes by id: ordinary workflow nodes (`{ type, version, params, inputs }`, exactly as
 * in a workflow file) and `source(...)` / `capture(...)` markers.
 */
export type TestNodes = Readonly<Record<string, unknown>>;

/** Options of {@link createTestRuntime}: those of `Runtime.create`, with plugins as objects or factories. */
export interface TestRuntimeOptions extends Omit<RuntimeOptions, 'plugins'> {
  /** Plugins under test: plugin objects, or factories (called without options), as a package exports them. */
  readonly plugins?: readonly (KinegraphPlugin | PluginFactory)[];
  /** Loose node definitions to register too (as a plugin named `nodes-under-test`). */
  readonly nodes?: readonly AnyNodeDefinition[];
}

/** Options of one {@link TestRuntime.run}. */
export interface TestRunOptions {
  /** Folders nodes may read. Default: the runtime's `inputs` folder. */
  readonly allowedFolders?: readonly string[];
  readonly previews?: boolean;
  readonly signal?: AbortSignal;
  /** Nodes running at once. Default: the runtime's (4). */
  readonly concurrency?: number;
  readonly overrides?: RunOptions['overrides'];
}

/** A runtime with the nodes under test, test sources and captures, and a scratch folder. */
export interface TestRuntime extends AsyncDisposable {
  /** The real runtime underneath (its registry, cache and store). */
  readonly runtime: Runtime;
  /** A fresh temporary folder, removed by {@link TestRuntime.close}; holds `inputs` and `out`. */
  readonly root: string;
  /** Where a test puts files for nodes to read: the runs' allowed folder unless told otherwise. */
  readonly inputs: string;
  /** The runs' output folder. */
  readonly out: string;
  /**
   * Runs a workflow of `nodes` to its end and resolves with its events, its error if it failed, and what
   * its captures recorded. Rejects with `WORKFLOW_INVALID` (listing the issues) when it does not validate.
   */
  run(nodes: TestNodes, options?: TestRunOptions): Promise<TestRun>;
  /** Validates a workflow of `nodes` (with migrations applied) without running it. */
  validate(nodes: TestNodes): ValidationResult;
  /** The tensor store's counters (starts the store if no run has). */
  stats(): Promise<TensorStoreStats>;
  /** Stops the inference worker and removes the scratch folder. */
  close(): Promise<void>;
}

/**
 * Creates a {@link TestRuntime}. One per test file is usual (one inference worker); close it in `afterAll`,
 * or declare it with `await using`.
 *
 * ```ts
 * const t = await createTestRuntime({ plugins: [plugin] });
 * const run = await t.run({
 *   clip: source('video', gradientVideo({ frames: 4, height: 8, width: 8 })),
 *   fx: { type: 'acme/brightness', version: 1, inputs: { video: { node: 'clip', output: 'video' } } },
 *   out: capture('fx', 'video'),
 * });
 * run.tensor('out').data; // Float32Array
 * ```
 */
export async function createTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const { plugins = [], nodes, ...runtimeOptions } = options;
  const underTest = await Promise.all(plugins.map((p) => (typeof p === 'function' ? p() : p)));
  if (nodes?.length) underTest.push({ name: 'nodes-under-test', nodes });
  const runtime = await Runtime.create({ ...runtimeOptions, plugins: underTest });
  let root: string | undefined;
  try {
    const tables: TestTables = { values: new Map(), captures: new Map() };
    const { plugin, types } = testNodesPlugin(runtime.registry.portTypes(), tables);
    runtime.registry.register(plugin);
    root = await mkdtemp(join(tmpdir(), 'kinegraph-test-'));
    await mkdir(join(root, 'inputs'));
    await mkdir(join(root, 'out'));
    return new WorkerTestRuntime(runtime, root, tables, types);
  } catch (error) {
    if (root) await rm(root, { recursive: true, force: true });
    await runtime.close();
    throw error;
  }
}

/**
 * Runs `nodes` once on a fresh {@link TestRuntime}, checks that no tensor is left live
 * ({@link expectNoLeaks}) and closes it. For a single run; share a runtime across a file's tests otherwise.
 */
export async function runNodes(nodes: TestNodes, options: TestRuntimeOptions & TestRunOptions = {}): Promise<TestRun> {
  const { allowedFolders, previews, signal, concurrency, overrides, ...runtimeOptions } = options;
  const runtime = await createTestRuntime(runtimeOptions);
  try {
    const run = await runtime.run(nodes, { allowedFolders, previews, signal, concurrency, overrides });
    await expectNoLeaks(runtime);
    return run;
  } finally {
    await runtime.close();
  }
}

class WorkerTestRuntime implements TestRuntime {
  readonly inputs: string;
  readonly out: string;
  /** Runs in flight per source value, so a value is kept exactly while some run may need it. */
  readonly #users = new Map<string, number>();

  constructor(
    readonly runtime: Runtime,
    readonly root: string,
    readonly tables: TestTables,
    readonly types: ReadonlyMap<string, TestNodeTypes>,
  ) {
    this.inputs = join(root, 'inputs');
    this.out = join(root, 'out');
  }

  async run(nodes: TestNodes, options: TestRunOptions = {}): Promise<TestRun> {
    const token = randomUUID();
    const { document, values } = this.#workflow(nodes, token);
    const captures = new Map<string, { portType: string; value: unknown }>();
    for (const [key, value] of values) {
      this.tables.values.set(key, value);
      this.#users.set(key, (this.#users.get(key) ?? 0) + 1);
    }
    this.tables.captures.set(token, captures);
    try {
      const events = await lastValueFrom(
        this.runtime
          .run(document, {
            outputFolder: this.out,
            allowedFolders: options.allowedFolders ?? [this.inputs],
            ...(options.previews !== undefined ? { previews: options.previews } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.concurrency ? { concurrency: options.concurrency } : {}),
            ...(options.overrides ? { overrides: options.overrides } : {}),
          })
          .pipe(toArray()),
      );
      return new TestRun(events, captures, nodes, document);
    } finally {
      this.tables.captures.delete(token);
      for (const key of values.keys()) {
        const users = (this.#users.get(key) ?? 1) - 1;
        if (users > 0) this.#users.set(key, users);
        else {
          this.#users.delete(key);
          this.tables.values.delete(key);
        }
      }
    }
  }

  validate(nodes: TestNodes): ValidationResult {
    return this.runtime.validate(this.#workflow(nodes, 'validate').document);
  }

  async stats(): Promise<TensorStoreStats> {
    return (await this.runtime.store()).stats();
  }

  async close(): Promise<void> {
    await this.runtime.close();
    await rm(this.root, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The workflow document: markers become source and capture nodes; the values sources will feed. */
  #workflow(
    nodes: TestNodes,
    token: string,
  ): { document: { format: string; nodes: Record<string, unknown> }; values: Map<string, unknown> } {
    const values = new Map<string, unknown>();
    const out: Record<string, unknown> = {};
    for (const [id, node] of Object.entries(nodes)) {
      if (isSourceMarker(node)) {
        const types = this.types.get(node.portType);
        if (!types) {
          throw new KinegraphError(
            'PORT_TYPE_UNKNOWN',
            `source '${id}': no port type '${node.portType}' is registered.`,
            {
              hint: `Registered port types: ${[...this.types.keys()].join(', ')}.`,
            },
          );
        }
        const key = valueKey(node.portType, node.value);
        values.set(key, node.value);
        out[id] = { type: types.source, version: 1, params: { value: key } };
      } else if (isCaptureMarker(node)) {
        const portType = this.#producedType(nodes[node.node], node.output);
        // An unknown producer or port: any capture type will do, the validator reports the actual problem.
        const types = (portType && this.types.get(portType)) || this.types.values().next().value!;
        out[id] = {
          type: types.capture,
          version: 1,
          params: { run: token },
          inputs: { value: { node: node.node, output: node.output } },
        };
      } else out[id] = node;
    }
    return { document: { format: WORKFLOW_FORMAT, nodes: out }, values };
  }

  /** The port type of a node's output, from its marker or its registered definition. */
  #producedType(producer: unknown, output: string): string | undefined {
    if (isSourceMarker(producer)) return producer.portType;
    if (typeof producer !== 'object' || producer === null || !('type' in producer)) return undefined;
    if (typeof producer.type !== 'string') return undefined;
    return this.runtime.registry.get(producer.type)?.definition.outputs[output]?.type;
  }
}
