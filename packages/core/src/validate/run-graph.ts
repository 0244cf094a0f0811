import type { NodeRegistry } from '../registry/registry.js';
import type { ValidationIssue } from '../workflow/issue.js';
import { applyModes, type PortsOf, type SkipReason } from '../workflow/modes.js';
import { SUBGRAPH_TYPE_PREFIX, type Subgraph, type Workflow, type WorkflowNode } from '../workflow/schema.js';
import { expandSubgraphs, hasSubgraphInstances } from '../workflow/subgraphs.js';
import { selectTargets } from '../workflow/targets.js';

/** The graph that runs: nodes with the edges they read, and where each came from in the document. */
export interface RunGraph {
  /** Nodes that run (subgraphs expanded, bypass and mute applied, a partial run's selection), in order. */
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  /** Every node id of the expanded graph, running or not (an edge to a skipped node is not to a missing one). */
  readonly nodeIds: readonly string[];
  /** Nodes that do not run because of a mode, and why. */
  readonly skipped: ReadonlyMap<string, SkipReason>;
  /** JSON pointers of expanded nodes whose place in the document is not `/nodes/<id>` (inner nodes). */
  readonly pointers: ReadonlyMap<string, string>;
  readonly issues: ValidationIssue[];
}

/** How to validate: a partial run names its target nodes. */
export interface ValidateOptions {
  /** Run only these nodes and what they need (node ids; a subgraph instance's id stands for its nodes). */
  readonly targets?: readonly string[];
}

/**
 * Phase 2, the graph that runs: subgraph instances (and nodes named after a plugin's blueprint) become
 * their inner nodes, bypassed and muted nodes drop out with what needs them, and a partial run keeps only
 * what its targets need. Later phases check node types, params and edges on what is left, so a muted
 * node of a missing plugin, or a broken branch a partial run does not need, is no problem.
 */
export function buildRunGraph(
  document: Record<string, unknown>,
  nodes: ReadonlyMap<string, WorkflowNode>,
  registry: NodeRegistry,
  options: ValidateOptions = {},
): RunGraph {
  const plain = Object.fromEntries(nodes);
  const hasModes = [...nodes.values()].some((n) => n.mode !== undefined);
  const hasBlueprints = [...nodes.values()].some((n) => !registry.get(n.type) && registry.blueprint(n.type));
  // The common case costs nothing: no subgraphs, modes or targets.
  if (!hasSubgraphInstances(plain) && !hasBlueprints && !hasModes && !options.targets)
    return { nodes, nodeIds: [...nodes.keys()], skipped: new Map(), pointers: new Map(), issues: [] };

  // Nodes named after a blueprint are instances of it, as if the workflow carried it as a subgraph.
  const subgraphs: Record<string, Subgraph> = { ...((document.subgraphs as Record<string, Subgraph>) ?? {}) };
  const renamed: Record<string, WorkflowNode> = {};
  const blueprintIssues: ValidationIssue[] = [];
  // Nodes refused here still exist: an edge from one is not an edge from a missing node.
  const refused: string[] = [];
  for (const [id, node] of nodes) {
    const blueprint = registry.get(node.type) ? undefined : registry.blueprint(node.type);
    if (!blueprint) {
      renamed[id] = node;
      continue;
    }
    if (node.version > blueprint.blueprint.version) {
      blueprintIssues.push({
        code: 'NODE_VERSION_NEWER',
        nodeId: id,
        pointer: `/nodes/${id}/version`,
        message: `Node "${id}" was saved with blueprint ${node.type} version ${node.version}, but the installed ${blueprint.source.package} has version ${blueprint.blueprint.version}.`,
        hint: `Update ${blueprint.source.package}.`,
      });
      refused.push(id);
      continue;
    }
    // Blueprints have no migrations: an older instance runs the installed version.
    const key = `blueprint:${node.type}`;
    subgraphs[key] = blueprint.blueprint.subgraph;
    renamed[id] = { ...node, type: `${SUBGRAPH_TYPE_PREFIX}${key}`, version: 1 };
  }
  const expansion = expandSubgraphs(
    { format: 'kinegraph/workflow@1', nodes: renamed, subgraphs } as Workflow,
    (type, output) => registry.get(type)?.definition.outputs[output]?.type,
  );
  const issues = [...blueprintIssues, ...expansion.issues];
  const portsOf = (type: string): PortsOf | undefined => registry.get(type)?.definition;
  const expanded = new Map([...expansion.nodes].map(([id, e]) => [id, e.node]));
  const modes = applyModes(expanded, portsOf);

  let keep: Set<string> | undefined;
  if (options.targets) {
    const selection = selectTargets(options.targets, (id) => modes.inputs.get(id), modes.skipped, expansion.instances);
    issues.push(...selection.issues);
    keep = selection.keep;
  }
  const running = new Map<string, WorkflowNode>();
  for (const [id, node] of expanded) {
    const inputs = modes.inputs.get(id);
    if (!inputs || (keep && !keep.has(id))) continue;
    const { inputs: _saved, ...rest } = node;
    running.set(id, Object.keys(inputs).length ? { ...rest, inputs } : rest);
  }
  const pointers = new Map<string, string>();
  for (const [id, e] of expansion.nodes) {
    if (!e.path.length) continue;
    // Inside a blueprint the document has no subgraph to point into: point at its instance.
    pointers.set(id, e.pointer.startsWith('/subgraphs/blueprint:') ? `/nodes/${e.path[0]}` : e.pointer);
  }
  return { nodes: running, nodeIds: [...expanded.keys(), ...refused], skipped: modes.skipped, pointers, issues };
}

/**
 * Issues about expanded inner nodes point into the document's `subgraphs` section (where the node is
 * written), not at `/nodes/<instance>:<inner>`.
 */
export function pointIntoSubgraphs(
  issues: readonly ValidationIssue[],
  pointers: ReadonlyMap<string, string>,
): ValidationIssue[] {
  if (!pointers.size) return [...issues];
  return issues.map((issue) => {
    const real = issue.nodeId === undefined ? undefined : pointers.get(issue.nodeId);
    const expandedPrefix =
      issue.nodeId === undefined ? '' : `/nodes/${issue.nodeId.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (!real || !issue.pointer.startsWith(expandedPrefix)) return issue;
    return { ...issue, pointer: real + issue.pointer.slice(expandedPrefix.length) };
  });
}
