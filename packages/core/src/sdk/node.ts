import type { Static, TObject } from '@sinclair/typebox';
import type { TensorOps } from '../ops/tensor-ops.js';
import type { TensorStore } from '../tensor/types.js';
import type { FileAccess } from './files.js';
import type { MemoryBudget, NodeMemory } from './memory.js';
import type { PortValue } from './port-types.js';

/** An input or output port of a node. */
export interface PortSpec<T extends string = string> {
  /** Port type name from the port-type registry (`video`, `mask`, ...). */
  readonly type: T;
  /** Label in the editor; defaults to the port's key. */
  readonly title?: string;
  readonly description?: string;
  /** Inputs only: the node runs without it (its value is `undefined`). */
  readonly optional?: boolean;
}

/** Ports by name. Names, never indices, identify ports in workflows. */
export type PortMap = Readonly<Record<string, PortSpec>>;

/** Values of a node's inputs, typed from its port map. */
export type InputValues<I extends PortMap> = {
  [K in keyof I]: I[K] extends { optional: true } ? PortValue<I[K]['type']> | undefined : PortValue<I[K]['type']>;
};

/**
 * The dims of a node's tensor inputs, as {@link NodeDefinition.memory} sees them: `null` for a connected
 * input whose shape is not known yet (its producer cannot say before it runs, or it carries no tensor),
 * absent for an input that is not connected.
 */
export type InputShapes<I extends PortMap> = { [K in keyof I]?: readonly number[] | null };

/**
 * What the producers of a node's inputs declared about values that are not tensors (`NodeMemory.facts`),
 * as {@link NodeDefinition.memory} sees them: absent when the producer declared nothing for that output.
 * Plain JSON from another node: check its shape before relying on it.
 */
export type InputFacts<I extends PortMap> = { [K in keyof I]?: unknown };

/** Values a node's `run` returns, typed from its port map. */
export type OutputValues<O extends PortMap> = { [K in keyof O]: PortValue<O[K]['type']> };

/** A small picture of work in progress, shown in the editor while a node runs. */
export interface Preview {
  /** `image/png`, `image/gif`, ... */
  readonly mime: string;
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * What a node's `run` gets besides its params and inputs: progress reporting, cancellation, tensors on the
 * device, and sandboxed file access.
 */
export interface NodeContext {
  /** The node's id in the workflow. */
  readonly nodeId: string;
  /** Aborted when the run is cancelled: pass it on, and check it between steps. */
  readonly signal: AbortSignal;
  /** Tensors and models on the run's device. Handles made here and not returned are freed after `run`. */
  readonly tensors: TensorStore;
  /**
   * Tensor math on the device (guidance mix, sampler updates, concat, slice, resize, masks, seeded noise)
   * as cached ONNX graphs over `tensors`: results are owned by the node like any handle it makes.
   */
  readonly ops: TensorOps;
  /** Reads inside the allowed folders, writes into the run's output folder. */
  readonly files: FileAccess;
  /** The workflow being run, as validated (for embedding in saved files). */
  readonly workflow: unknown;
  /**
   * Whether the host shows previews. False when nobody would see them (`kinegraph run` without
   * `--previews`): skip making them, as they cost CPU the models could use. Previews sent anyway are dropped.
   */
  readonly previews: boolean;
  /** Report progress in [0, 1], with an optional message and preview. */
  progress(fraction: number, update?: { message?: string; preview?: Preview }): void;
  /** A problem worth telling the user that does not stop the node (e.g. words outside a vocabulary). */
  warn(code: string, message: string): void;
  /** Throws the abort reason if the run was cancelled. */
  throwIfCancelled(): void;
  /**
   * The run's memory budget: decoders check a file's header (width × height × frames) against
   * `available()` before decoding. Absent in hosts that set no budget.
   */
  readonly budget?: MemoryBudget;
}

/** Migrates a saved node one version up: from the version it is keyed by to the next. */
export type NodeMigration = (node: {
  params: Record<string, unknown>;
  inputs: Record<string, { node: string; output: string }>;
}) => {
  params: Record<string, unknown>;
  inputs: Record<string, { node: string; output: string }>;
};

/** Everything a node type is: serialisable description plus the `run` function. */
export interface NodeDefinition<P extends TObject = TObject, I extends PortMap = PortMap, O extends PortMap = PortMap> {
  /** Namespaced kebab-case type, `namespace/name` (`kinegraph/text-encode`, `acme/color-grade`). */
  readonly type: string;
  /** Integer ≥ 1, raised when params or ports change incompatibly; add a `migrate` step for each raise. */
  readonly version: number;
  readonly title: string;
  /** Palette category, slash-separated for nesting (`sampling`, `io/video`). */
  readonly category: string;
  readonly description: string;
  /** TypeBox object schema of the params: the TS type of `run`'s params and the JSON Schema ajv validates. */
  readonly params: P;
  readonly inputs: I;
  readonly outputs: O;
  /** `migrate[v]` turns a version-v node into a version v+1 node. */
  readonly migrate?: Readonly<Record<number, NodeMigration>>;
  /**
   * Whether outputs may be reused from the cache when type, version, params and inputs are unchanged.
   * Default true. Set false for nodes whose result depends on the outside world beyond `fingerprint`.
   */
  readonly cache?: boolean;
  /**
   * Extra content that the cache key depends on, e.g. the size and mtime of a file a loader reads, so an
   * edited file is reloaded. Called before every run of the node.
   */
  fingerprint?(params: Static<P>, context: { files: FileAccess }): string | Promise<string>;
  /**
   * What the node will allocate, from its params and its inputs' shapes, declared before it runs (see
   * `NodeMemorySchema`): the runtime refuses the node with `MEMORY_BUDGET_EXCEEDED` when it would not fit
   * the run's budget, and refuses the whole run up front when the shapes are known before anything runs.
   * Return `undefined` when the inputs it needs are not known yet. Declare what `run` really makes, scratch
   * included: a node that under-declares can still exhaust the machine. `facts` carries what the producers
   * of non-tensor inputs declared about them (a model pack's frames and resolution).
   */
  memory?(args: { params: Static<P>; inputs: InputShapes<I>; facts: InputFacts<I> }): NodeMemory | undefined;
  /** Does the work. Returns a value for every output port. */
  // Method syntax on purpose: it keeps a typed node assignable to the erased `AnyNodeDefinition`.
  run(args: {
    params: Static<P>;
    inputs: InputValues<I>;
    context: NodeContext;
  }): Promise<OutputValues<O>> | OutputValues<O>;
}

/** A node definition with its type parameters erased, as registries hold it. */
export type AnyNodeDefinition = NodeDefinition<TObject, PortMap, PortMap>;

const NODE_TYPE_PATTERN = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\/[a-z0-9][a-z0-9-]*$/;

/** True for `namespace/kebab-name` node types. */
export function isValidNodeType(type: string): boolean {
  return NODE_TYPE_PATTERN.test(type);
}

/**
 * Declares a node type. An identity helper, like Vite's `defineConfig`: it costs nothing at run time and
 * infers `run`'s params and inputs from the schema and port maps.
 */
export function defineNode<P extends TObject, const I extends PortMap, const O extends PortMap>(
  definition: NodeDefinition<P, I, O>,
): NodeDefinition<P, I, O> {
  return definition;
}
