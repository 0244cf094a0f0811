/**
 * Every run has a memory budget. A node declares what it will allocate (`NodeDefinition.memory`, from its
 * params, its inputs' shapes and the facts its producers declared, such as a model pack's frames and
 * resolution); the run is refused before anything runs when a node whose inputs are known up front would
 * not fit ({@link planMemory}), and a node is refused just before it runs, with its real inputs' shapes,
 * when its declaration does not fit what the run has left ({@link checkNodeMemory}). Both are `MEMORY_BUDGET_EXCEEDED`, before the node allocates anything.
 * Decoders, which learn sizes only from a file's header, check against `context.budget` themselves.
 */
import { totalmem } from 'node:os';
import { declaredBytes, type MemoryBudget, NodeMemorySchema } from '../sdk/memory.js';
import type { AnyNodeDefinition } from '../sdk/node.js';
import { KinegraphError } from '../util/errors.js';
import { validatorFor } from '../validate/ajv.js';
import type { PreparedNode, PreparedWorkflow } from '../validate/validate.js';
import { collectTensors, tensorBytes } from './tensor-walk.js';

/**
 * The budget of a run when its host sets none: half the memory this process may use (its cgroup's limit
 * when it has one, else the machine's RAM), leaving the rest to the runtime itself, the model sessions,
 * the output cache and the operating system.
 */
export function defaultMemoryBudget(): number {
  const total = totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const limit = constrained > 0 && constrained < total ? constrained : total;
  return Math.floor(limit / 2);
}

/** What nodes declared about their outputs that are not tensors (`NodeMemory.facts`), by node id, then port. */
export type DeclaredFacts = Map<string, Readonly<Record<string, unknown>>>;

/** A run's budget while it runs: the whole, and what its live tensors leave of it. */
export class RunMemory implements MemoryBudget {
  /** Facts declared so far, for the consumers of those outputs (filled by the plan and as nodes settle). */
  readonly facts: DeclaredFacts = new Map();

  constructor(
    readonly bytes: number,
    /** Bytes of the tensors the run holds now (its nodes' outputs not yet consumed). */
    private readonly held: () => number,
  ) {}

  available(): number {
    return Math.max(0, this.bytes - this.held());
  }
}

/** Bytes of the distinct tensors in these values. */
export function bytesHeld(values: Iterable<unknown>): number {
  const found = new Map();
  for (const value of values) collectTensors(value, found);
  let total = 0;
  for (const handle of found.values()) total += tensorBytes(handle);
  return total;
}

/** Input shapes as `NodeDefinition.memory` sees them. */
type Shapes = Record<string, readonly number[] | null>;

/** The dims of the first tensor in each connected input value (`null` when it carries none). */
export function inputShapes(inputs: Readonly<Record<string, unknown>>): Shapes {
  const shapes: Shapes = {};
  for (const [port, value] of Object.entries(inputs)) {
    if (value === undefined) continue;
    const first = collectTensors(value).values().next();
    shapes[port] = first.done ? null : first.value.dims;
  }
  return shapes;
}

/** A node's declaration, summed up: its bytes, the dims of the outputs it sized, and its facts. */
export interface Declaration {
  readonly bytes: number;
  readonly outputs: Readonly<Record<string, readonly number[]>>;
  readonly facts: Readonly<Record<string, unknown>>;
}

/** The facts a node's producers declared about the outputs its inputs are connected to. */
export function inputFacts(node: Pick<PreparedNode, 'inputs'>, known: DeclaredFacts): Record<string, unknown> {
  const facts: Record<string, unknown> = {};
  for (const [port, edge] of Object.entries(node.inputs)) {
    const fact = known.get(edge.node)?.[edge.output];
    if (fact !== undefined) facts[port] = fact;
  }
  return facts;
}

/**
 * What a node declares for these params, input shapes and input facts, or undefined when it declares
 * nothing (no `memory`, or it cannot size itself yet). A declaration that is not a `NodeMemory` is a
 * plugin bug: `NODE_MEMORY_INVALID`.
 */
export function declaredNodeBytes(
  node: { id: string; params: Record<string, unknown> },
  definition: AnyNodeDefinition,
  shapes: Readonly<Shapes>,
  facts: Readonly<Record<string, unknown>> = {},
): Declaration | undefined {
  if (!definition.memory) return undefined;
  const declared = definition.memory({ params: node.params as never, inputs: shapes as never, facts: facts as never });
  if (declared === undefined) return undefined;
  if (!validatorFor(NodeMemorySchema)(declared))
    throw new KinegraphError(
      'NODE_MEMORY_INVALID',
      `Node "${node.id}" (${definition.type}) declared its memory as something other than { outputs, scratchBytes, facts }.`,
      { nodeId: node.id, hint: 'A bug in the plugin that provides this node type: report it to its authors.' },
    );
  const outputs = Object.fromEntries(Object.entries(declared.outputs).map(([k, s]) => [k, s.dims]));
  return { bytes: declaredBytes(declared), outputs, facts: declared.facts ?? {} };
}

/** The refusal of one node: what it needs, what there is. */
export function budgetExceeded(
  node: PreparedNode,
  need: number,
  available: number,
  budget: number,
  when: 'before the run' | 'before the node',
): KinegraphError {
  const type = node.registered.definition.type;
  const left = available < budget ? ` (${formatBytes(available)} of it left)` : '';
  return new KinegraphError(
    'MEMORY_BUDGET_EXCEEDED',
    `Node "${node.id}" (${type}) would allocate ${formatBytes(need)}, more than the run's memory budget of ${formatBytes(budget)}${left}; refused ${when}.`,
    {
      nodeId: node.id,
      hint: 'Lower the sizes (frames, width, height) this node makes, or give the run a larger memory budget.',
    },
  );
}

/**
 * The run's first node that would not fit the whole budget, judged before anything runs: shapes (and
 * facts) flow from nodes that declare their outputs from params to the nodes they feed, in run order.
 * Nodes whose inputs are not known yet (after a loader) are judged when they run ({@link checkNodeMemory}).
 * The facts declared on the way are recorded in `facts` when given.
 */
export function planMemory(
  prepared: PreparedWorkflow,
  budget: number,
  facts: DeclaredFacts = new Map(),
): KinegraphError | undefined {
  const known = new Map<string, Readonly<Record<string, readonly number[]>>>();
  for (const id of prepared.order) {
    const node = prepared.nodes.get(id)!;
    const shapes: Shapes = {};
    for (const [port, edge] of Object.entries(node.inputs)) shapes[port] = known.get(edge.node)?.[edge.output] ?? null;
    // A node that cannot size itself without an unknown input says so (undefined); one that answers anyway
    // does not need it.
    const declared = declaredNodeBytes(node, node.registered.definition, shapes, inputFacts(node, facts));
    if (!declared) continue;
    facts.set(id, declared.facts);
    if (declared.bytes > budget) return budgetExceeded(node, declared.bytes, budget, budget, 'before the run');
    known.set(id, declared.outputs);
  }
  return undefined;
}

/**
 * What a node about to settle declares, from its real inputs' shapes and the facts its producers declared;
 * its own facts are recorded for its consumers. Undefined when it declares nothing.
 */
export function declareNode(
  node: PreparedNode,
  inputs: Readonly<Record<string, unknown>>,
  memory: RunMemory,
): Declaration | undefined {
  const declared = declaredNodeBytes(
    node,
    node.registered.definition,
    inputShapes(inputs),
    inputFacts(node, memory.facts),
  );
  if (declared) memory.facts.set(node.id, declared.facts);
  return declared;
}

/** Refusal of a node about to run with this declaration, or undefined when it fits what is left. */
export function checkNodeMemory(
  node: PreparedNode,
  declared: Declaration | undefined,
  memory: MemoryBudget,
): KinegraphError | undefined {
  if (!declared) return undefined;
  const available = memory.available();
  return declared.bytes > available
    ? budgetExceeded(node, declared.bytes, available, memory.bytes, 'before the node')
    : undefined;
}

/** 1.5 GB style sizes for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.ceil(n / 1024)} KB`;
}
