/**
 * Subgraph expansion: a workflow whose nodes include instances of its subgraphs (`subgraph/<id>`) becomes
 * the flat graph of ordinary nodes that runs. Each inner node gets the id `<instance>:<inner>` (nested:
 * `a:b:c`), so it validates, caches and reports progress like any node; edges into an instance are routed
 * to the inner nodes that read the subgraph's inputs, and edges from an instance's output to the inner
 * node that gives it. Exposed params of an instance become params of the inner nodes. An instance's
 * `mute` mutes every inner node; a `bypass`ed instance passes its inputs to its outputs of the same type.
 *
 * Pure data, no registry: problems with the subgraphs themselves are reported here; node types, params
 * and port types are checked afterwards on the expanded nodes, like any others.
 */
import { pointer, type ValidationIssue } from './issue.js';
import {
  type Edge,
  SUBGRAPH_INPUT_NODE,
  SUBGRAPH_TYPE_PREFIX,
  type Subgraph,
  type Workflow,
  type WorkflowNode,
} from './schema.js';

/** Nesting deeper than this is refused (and catches subgraphs that contain themselves). */
export const MAX_SUBGRAPH_DEPTH = 16;

/** One node of the expanded graph. */
export interface ExpandedNode {
  /** Its id in the expanded graph: the document id, or `<instance>:<inner>` inside a subgraph. */
  readonly id: string;
  /** The node, with params set by its instance and edges naming expanded ids. */
  readonly node: WorkflowNode;
  /** JSON pointer of the node in the document (inside `subgraphs/<id>/nodes` for inner nodes). */
  readonly pointer: string;
  /** Ids of the instances it sits in, outermost first (empty for a top-level node). */
  readonly path: readonly string[];
}

/** The expanded graph. */
export interface Expansion {
  readonly nodes: Map<string, ExpandedNode>;
  readonly issues: ValidationIssue[];
  /** Expanded ids of each instance's inner nodes (nested ones included), by the instance's expanded id. */
  readonly instances: Map<string, string[]>;
}

/** Looks up the port type of a node type's output, for bypassed instances (undefined: unknown). */
export type OutputTypeOf = (nodeType: string, output: string) => string | undefined;

/** `subgraph/<id>` → `<id>`; undefined for other types. */
export function subgraphIdOf(type: string): string | undefined {
  return type.startsWith(SUBGRAPH_TYPE_PREFIX) ? type.slice(SUBGRAPH_TYPE_PREFIX.length) : undefined;
}

/** True when the workflow has an instance of a subgraph anywhere (so it needs expanding). */
export function hasSubgraphInstances(nodes: Readonly<Record<string, WorkflowNode>>): boolean {
  return Object.values(nodes).some((n) => typeof n?.type === 'string' && n.type.startsWith(SUBGRAPH_TYPE_PREFIX));
}

/** Where an edge comes from before it is resolved: a node's output, or an instance's input. */
type Ref = { readonly kind: 'output'; readonly node: string; readonly output: string } | InputRef;
type InputRef = { readonly kind: 'input'; readonly instance: string; readonly input: string };

interface Instance {
  readonly id: string;
  readonly definitionId: string;
  readonly definition: Subgraph;
  readonly pointer: string;
  /** Its own edges (expanded ids of the level it sits in), by input name. */
  readonly inputs: Readonly<Record<string, Ref>>;
  readonly mode: WorkflowNode['mode'];
}

/**
 * Expands every subgraph instance of `workflow`. `outputTypeOf` gives the port types that bypassing an
 * instance needs (from the registry); without it, outputs that declare no type pass nothing on.
 */
export function expandSubgraphs(workflow: Workflow, outputTypeOf?: OutputTypeOf): Expansion {
  const issues: ValidationIssue[] = [];
  const raw = new Map<string, { node: WorkflowNode; pointer: string; path: string[]; edges: Record<string, Ref> }>();
  const instances = new Map<string, Instance>();
  const members = new Map<string, string[]>();
  const definitions = workflow.subgraphs ?? {};
  const checked = new Set<string>();

  /** Adds the nodes of one level (the document, or one instance's subgraph). */
  const addLevel = (
    nodes: Readonly<Record<string, WorkflowNode>>,
    prefix: string,
    pointerOf: (id: string) => string,
    path: string[],
    stack: string[],
    inputOf: (name: string) => Ref | undefined,
    muted: boolean,
    exposed: Readonly<Record<string, Record<string, unknown>>>,
  ) => {
    const idOf = (id: string) => `${prefix}${id}`;
    // An edge of this level, as a reference: `$input` reads the enclosing instance's input.
    const refOf = (edge: Edge): Ref | undefined =>
      prefix && edge.node === SUBGRAPH_INPUT_NODE
        ? inputOf(edge.output)
        : { kind: 'output', node: idOf(edge.node), output: edge.output };
    for (const [localId, node] of Object.entries(nodes)) {
      if (typeof node !== 'object' || node === null) continue;
      const id = idOf(localId);
      const at = pointerOf(localId);
      for (const outer of path) members.get(outer)!.push(id);
      const edges: Record<string, Ref> = {};
      for (const [port, edge] of Object.entries(node.inputs ?? {})) {
        const ref = refOf(edge);
        if (ref) edges[port] = ref;
      }
      const mode = muted ? 'mute' : node.mode;
      const definitionId = typeof node.type === 'string' ? subgraphIdOf(node.type) : undefined;
      if (definitionId === undefined) {
        const params = { ...(node.params ?? {}), ...(exposed[localId] ?? {}) };
        raw.set(id, {
          node: { ...node, params, ...(mode ? { mode } : {}) },
          pointer: at,
          path,
          edges,
        });
        continue;
      }
      const definition = definitions[definitionId];
      if (!definition) {
        const known = Object.keys(definitions);
        issues.push({
          code: 'SUBGRAPH_UNKNOWN',
          nodeId: id,
          pointer: `${at}/type`,
          message: `Node "${id}" is an instance of subgraph "${definitionId}", which the workflow does not define.`,
          hint: known.length
            ? `Subgraphs of this workflow: ${known.map((k) => `${SUBGRAPH_TYPE_PREFIX}${k}`).join(', ')}.`
            : 'Add its definition under "subgraphs", or replace the node.',
        });
        continue;
      }
      if (stack.includes(definitionId) || stack.length >= MAX_SUBGRAPH_DEPTH) {
        issues.push({
          code: 'SUBGRAPH_CYCLE',
          nodeId: id,
          pointer: `${at}/type`,
          message: stack.includes(definitionId)
            ? `Subgraph "${definitionId}" contains itself: ${[...stack, definitionId].join(' \u2192 ')}.`
            : `Subgraphs are nested more than ${MAX_SUBGRAPH_DEPTH} deep here.`,
          hint: 'A subgraph cannot contain an instance of itself, directly or through another subgraph.',
        });
        continue;
      }
      if (node.version !== 1)
        issues.push({
          code: 'SUBGRAPH_INVALID',
          nodeId: id,
          pointer: `${at}/version`,
          message: `Subgraph instances have version 1 (node "${id}" has ${node.version}).`,
          hint: 'Set "version": 1: the subgraph is defined in the workflow itself, so there is nothing to migrate.',
        });
      const instance: Instance = {
        id,
        definitionId,
        definition,
        pointer: at,
        inputs: edges,
        mode: mode,
      };
      instances.set(id, instance);
      members.set(id, []);
      // Exposed params: instance params land on the inner nodes.
      const inner: Record<string, Record<string, unknown>> = {};
      for (const [name, value] of Object.entries(node.params ?? {})) {
        const target = definition.params?.[name];
        if (!target) {
          const names = Object.keys(definition.params ?? {});
          issues.push({
            code: 'PARAM_UNKNOWN',
            nodeId: id,
            pointer: `${at}/params/${name}`,
            message: `Subgraph "${definitionId}" exposes no param "${name}".`,
            hint: names.length ? `Its params: ${names.join(', ')}.` : 'It exposes no params.',
          });
          continue;
        }
        (inner[target.node] ??= {})[target.param] = value;
      }
      const base = pointer('subgraphs', definitionId);
      if (!checked.has(definitionId)) {
        checked.add(definitionId);
        checkDefinition(definitionId, definition, base, issues);
      }
      addLevel(
        definition.nodes ?? {},
        `${id}:`,
        (innerId) => `${base}${pointer('nodes', innerId)}`,
        [...path, id],
        [...stack, definitionId],
        (name) => {
          if (!definition.inputs?.[name]) return undefined;
          return { kind: 'input', instance: id, input: name };
        },
        mode === 'mute',
        inner,
      );
    }
  };

  addLevel(
    workflow.nodes ?? {},
    '',
    (id) => pointer('nodes', id),
    [],
    [],
    () => undefined,
    false,
    {},
  );

  /** Follows a reference through instances (and bypassed instances) to a real node's output. */
  const resolve = (ref: Ref, seen = new Set<string>()): { node: string; output: string } | undefined => {
    const key =
      ref.kind === 'output' ? `o\u0000${ref.node}\u0000${ref.output}` : `i\u0000${ref.instance}\u0000${ref.input}`;
    if (seen.has(key)) return undefined; // A loop through instances: CYCLE is reported by the graph check.
    seen.add(key);
    if (ref.kind === 'input') {
      const outer = instances.get(ref.instance)!.inputs[ref.input];
      return outer ? resolve(outer, seen) : undefined;
    }
    const instance = instances.get(ref.node);
    if (!instance) return { node: ref.node, output: ref.output };
    const out = instance.definition.outputs?.[ref.output];
    if (!out) return { node: ref.node, output: ref.output }; // Reported below (OUTPUT_UNKNOWN).
    if (instance.mode === 'bypass') {
      const type = subgraphOutputType(definitions, instance.definitionId, ref.output, outputTypeOf);
      const pass = Object.entries(instance.definition.inputs ?? {}).find(
        ([name, input]) => input.type === type && instance.inputs[name] !== undefined,
      );
      return pass ? resolve(instance.inputs[pass[0]]!, seen) : undefined;
    }
    const inner: Ref =
      out.node === SUBGRAPH_INPUT_NODE
        ? { kind: 'input', instance: instance.id, input: out.output }
        : { kind: 'output', node: `${instance.id}:${out.node}`, output: out.output };
    return resolve(inner, seen);
  };

  const nodes = new Map<string, ExpandedNode>();
  for (const [id, entry] of raw) {
    // Inner nodes of a bypassed instance do not run: its outputs pass its inputs on instead.
    if (entry.path.some((p) => instances.get(p)?.mode === 'bypass')) continue;
    const inputs: Record<string, Edge> = {};
    for (const [port, ref] of Object.entries(entry.edges)) {
      if (ref.kind === 'output' && instances.has(ref.node)) {
        const instance = instances.get(ref.node)!;
        if (!instance.definition.outputs?.[ref.output]) {
          const names = Object.keys(instance.definition.outputs ?? {});
          issues.push({
            code: 'OUTPUT_UNKNOWN',
            nodeId: id,
            pointer: `${entry.pointer}/inputs/${port}/output`,
            message: `Input "${port}" reads output "${ref.output}" of "${ref.node}" (subgraph "${instance.definitionId}"), which has no such output.`,
            hint: names.length ? `Its outputs: ${names.join(', ')}.` : 'The subgraph has no outputs.',
          });
          continue;
        }
      }
      const resolved = resolve(ref);
      // An unconnected subgraph input (or a bypass with nothing to pass): the inner input is unconnected,
      // which validation reports if it is required.
      if (resolved) inputs[port] = resolved;
    }
    const { inputs: _inputs, ...rest } = entry.node;
    nodes.set(id, {
      id,
      node: { ...rest, ...(Object.keys(inputs).length ? { inputs } : {}) },
      pointer: entry.pointer,
      path: entry.path,
    });
  }
  // Required subgraph inputs an instance leaves unconnected.
  for (const instance of instances.values()) {
    for (const [name, input] of Object.entries(instance.definition.inputs ?? {})) {
      if (input.optional || instance.inputs[name] || instance.mode === 'mute') continue;
      issues.push({
        code: 'INPUT_MISSING',
        nodeId: instance.id,
        pointer: `${instance.pointer}/inputs/${name}`,
        message: `Required input "${name}" (${input.type}) of subgraph "${instance.definitionId}" is not connected.`,
        hint: `Connect an output of type ${input.type}.`,
      });
    }
  }
  return { nodes, issues, instances: members };
}

/**
 * The port type output `output` of subgraph `id` gives: that of the inner output it names (through nested
 * subgraphs), or of the input it passes on. Undefined when that is not known.
 */
export function subgraphOutputType(
  definitions: Readonly<Record<string, Subgraph>>,
  id: string,
  output: string,
  outputTypeOf?: OutputTypeOf,
  depth = 0,
): string | undefined {
  const definition = definitions[id];
  const out = definition?.outputs?.[output];
  if (!definition || !out || depth > MAX_SUBGRAPH_DEPTH) return undefined;
  if (out.node === SUBGRAPH_INPUT_NODE) return definition.inputs?.[out.output]?.type;
  const inner = definition.nodes?.[out.node];
  if (!inner) return undefined;
  const nested = subgraphIdOf(inner.type);
  return nested !== undefined
    ? subgraphOutputType(definitions, nested, out.output, outputTypeOf, depth + 1)
    : outputTypeOf?.(inner.type, out.output);
}

/** Checks that a definition's outputs and params name inner nodes that exist. */
function checkDefinition(id: string, definition: Subgraph, base: string, issues: ValidationIssue[]): void {
  const nodes = definition.nodes ?? {};
  for (const [name, out] of Object.entries(definition.outputs ?? {})) {
    const from = out.node === SUBGRAPH_INPUT_NODE ? definition.inputs?.[out.output] : nodes[out.node];
    if (!from)
      issues.push({
        code: 'SUBGRAPH_INVALID',
        pointer: `${base}/outputs/${name}`,
        message: `Output "${name}" of subgraph "${id}" reads ${out.node === SUBGRAPH_INPUT_NODE ? `input "${out.output}"` : `node "${out.node}"`}, which the subgraph does not have.`,
        hint: `Its nodes: ${Object.keys(nodes).join(', ') || '(none)'}.`,
      });
  }
  for (const [name, param] of Object.entries(definition.params ?? {})) {
    if (!nodes[param.node])
      issues.push({
        code: 'SUBGRAPH_INVALID',
        pointer: `${base}/params/${name}`,
        message: `Param "${name}" of subgraph "${id}" belongs to node "${param.node}", which the subgraph does not have.`,
        hint: `Its nodes: ${Object.keys(nodes).join(', ') || '(none)'}.`,
      });
  }
  for (const [nodeId, node] of Object.entries(nodes))
    for (const [port, edge] of Object.entries(node?.inputs ?? {}))
      if (edge.node === SUBGRAPH_INPUT_NODE && !definition.inputs?.[edge.output])
        issues.push({
          code: 'SUBGRAPH_INVALID',
          pointer: `${base}${pointer('nodes', nodeId, 'inputs', port)}`,
          message: `Node "${nodeId}" of subgraph "${id}" reads subgraph input "${edge.output}", which is not declared.`,
          hint: `Declare it under "inputs" with its type, or connect another node. Inputs: ${Object.keys(definition.inputs ?? {}).join(', ') || '(none)'}.`,
        });
}

/**
 * The node types a workflow needs from plugins: those of its nodes and of its subgraphs' nodes, without
 * subgraph instances (defined in the workflow) and without muted nodes (which do not run). A type may also
 * name a plugin's blueprint.
 */
export function nodeTypesNeeded(workflow: Pick<Workflow, 'nodes' | 'subgraphs'>): string[] {
  const types = new Set<string>();
  const add = (nodes: Readonly<Record<string, WorkflowNode>>) => {
    for (const node of Object.values(nodes ?? {}))
      if (typeof node?.type === 'string' && node.mode !== 'mute' && subgraphIdOf(node.type) === undefined)
        types.add(node.type);
  };
  add(workflow.nodes);
  for (const subgraph of Object.values(workflow.subgraphs ?? {})) add(subgraph?.nodes);
  return [...types];
}
