import type { NodeRegistry } from '../registry/registry.js';
import type { ValidationIssue } from '../workflow/issue.js';
import type { Workflow } from '../workflow/schema.js';
import { orderNodes } from './cycles.js';
import { checkEdges } from './edges.js';
import { resolveNode } from './node-types.js';
import { validateParams } from './params.js';
import type { PreparedNode, ValidationResult } from './prepared.js';
import { buildRunGraph, pointIntoSubgraphs, type ValidateOptions } from './run-graph.js';
import { checkShape } from './shape.js';

export type { PreparedNode, PreparedWorkflow, ValidationResult } from './prepared.js';
export type { ValidateOptions } from './run-graph.js';

/**
 * Checks a workflow document against the registry before anything runs, and lists every problem at once.
 * Older node versions are migrated first and the result is what gets validated. The input is not mutated.
 *
 * Six phases, each in its own module: shape and schema (`shape.ts`); the graph that runs (`run-graph.ts`:
 * subgraphs expanded, bypass and mute, a partial run's targets); then node by node, type and migration
 * (`node-types.ts`) and params (`params.ts`); edges and port types (`edges.ts`); cycles and order
 * (`cycles.ts`). A node that fails a phase is left out of the later ones, so each problem is reported once.
 */
export function validateWorkflow(
  document: unknown,
  registry: NodeRegistry,
  options: ValidateOptions = {},
): ValidationResult {
  const shape = checkShape(document);
  if (!('document' in shape)) return { ok: false, issues: shape.issues };
  const issues: ValidationIssue[] = [...shape.issues];
  // Subgraphs whose structure is broken are reported by the shape phase: nothing to expand then.
  if (issues.some((i) => i.pointer.startsWith('/subgraphs'))) return { ok: false, issues };

  const graph = buildRunGraph(shape.document, shape.nodes, registry, options);
  issues.push(...graph.issues);
  const prepared = new Map<string, PreparedNode>();
  const migrated: Array<{ nodeId: string; from: number; to: number }> = [];
  const runnable: Record<string, Workflow['nodes'][string]> = {};
  const nodeIssues: ValidationIssue[] = [];
  for (const [id, saved] of graph.nodes) {
    const node = resolveNode(id, saved, registry, shape.provenance);
    if ('issue' in node) {
      nodeIssues.push(node.issue);
      continue;
    }
    if (node.from !== node.to) migrated.push({ nodeId: id, from: node.from, to: node.to });
    // Fills in defaults, so `params` is complete for the run and for what outputs embed.
    nodeIssues.push(...validateParams(id, node.registered.definition.params, node.params));
    runnable[id] = { ...saved, version: node.to, params: node.params, inputs: node.inputs };
    prepared.set(id, { id, registered: node.registered, params: node.params, inputs: node.inputs });
  }

  nodeIssues.push(...checkEdges(prepared, graph.nodeIds, registry));
  const { order, issues: cycles } = orderNodes(graph.nodes, prepared);
  nodeIssues.push(...cycles);
  issues.push(...pointIntoSubgraphs(nodeIssues, graph.pointers));

  if (issues.length) return { ok: false, issues };
  // What outputs embed is the document as written, with the nodes that run migrated: subgraphs, muted
  // nodes and the nodes a partial run leaves out stay as they were.
  const nodes: Record<string, Workflow['nodes'][string]> = {};
  for (const [id, saved] of shape.nodes) nodes[id] = runnable[id] ?? saved;
  const workflow = { ...(shape.document as Workflow), nodes };
  return {
    ok: true,
    prepared: {
      workflow,
      nodes: prepared,
      order,
      migrated,
      ...(graph.skipped.size ? { skipped: graph.skipped } : {}),
      ...(options.targets ? { targets: [...options.targets] } : {}),
    },
    issues: [],
  };
}
