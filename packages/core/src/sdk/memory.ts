/**
 * Memory budgets, as node authors see them. Every run has a budget (bytes); a node declares, from its
 * params and the shapes of its inputs, what it will allocate ({@link NodeMemory}), and the runtime refuses
 * a node (or, when shapes are known before anything runs, the whole run) that would not fit, with
 * `MEMORY_BUDGET_EXCEEDED`, before the node allocates anything. One TypeBox schema is both the TS type and
 * the check the runtime applies to what a plugin returns.
 */
import { type Static, Type } from '@sinclair/typebox';
import { DTYPE_BYTES } from '../tensor/dtype.js';

/** A tensor a node will make: its dims and element type. */
export const TensorShapeSchema = Type.Object(
  {
    dims: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 8 }),
    dtype: Type.Union(
      ['float32', 'float16', 'int64', 'int32', 'uint8', 'bool'].map((d) => Type.Literal(d)),
      { default: 'float32' },
    ),
  },
  { additionalProperties: false },
);
/** A tensor a node will make: its dims and element type. */
export type TensorShape = Static<typeof TensorShapeSchema>;

/**
 * What a node declares it will allocate: the tensor of each output it can size, and the scratch it holds
 * on top while it works (intermediate tensors, decoded frames, the copy ONNX Runtime makes of an output).
 * Outputs it cannot size yet (a loader before it reads the file's header) are left out; such a node checks
 * its own header against `context.budget`. An output port whose value holds several tensors is declared by
 * its first tensor (the shape its consumers see); the others go into `scratchBytes`.
 *
 * `facts` are what consumers may rely on about an output that is not a tensor, before it exists: a model
 * pack's frame count and resolution, which fix the size of everything sampled with it. They reach the
 * consumers' `memory` as `facts[port]` (plain JSON data; a consumer checks what it reads).
 */
export const NodeMemorySchema = Type.Object(
  {
    outputs: Type.Record(Type.String(), TensorShapeSchema),
    scratchBytes: Type.Optional(Type.Number({ minimum: 0 })),
    facts: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
/** What a node declares it will allocate (see {@link NodeMemorySchema}). */
export type NodeMemory = Static<typeof NodeMemorySchema>;

/** The run's memory budget, as a node sees it while it runs. */
export interface MemoryBudget {
  /** The whole run's budget, bytes. */
  readonly bytes: number;
  /** What is left for this node now: the budget less the tensors the run holds. */
  available(): number;
}

/** Bytes of one declared tensor. */
export function shapeBytes(shape: TensorShape): number {
  return shape.dims.reduce((n, d) => n * d, 1) * ((DTYPE_BYTES as Readonly<Record<string, number>>)[shape.dtype] ?? 4);
}

/** Bytes a declaration adds up to: every output plus the scratch. */
export function declaredBytes(memory: NodeMemory): number {
  return Object.values(memory.outputs).reduce((n, s) => n + shapeBytes(s), memory.scratchBytes ?? 0);
}
