/**
 * Subgraph edits on workflow documents: turning a selection into a subgraph and back, and the editable
 * view of a subgraph's inside (its nodes plus two editor-only nodes for its inputs and outputs). Pure data,
 * tested without a browser; the editor reloads its canvas from the result.
 */
import {
  SUBGRAPH_INPUT_NODE,
  SUBGRAPH_TYPE_PREFIX,
  type Subgraph,
  type Workflow,
  type WorkflowNode,
} from '@kinegraph/core';

/** Editor-only node types that stand for a subgraph's inputs and outputs while it is open. */
export const SUBGRAPH_INPUTS_TYPE = 'kinegraph-editor/subgraph-inputs';
export const SUBGRAPH_OUTPUTS_TYPE = 'kinegraph-editor/subgraph-outputs';
/** Their ids in the open subgraph's view (inner edges already name `$input`). */
export const INPUTS_NODE_ID = SUBGRAPH_INPUT_NODE;
export const OUTPUTS_NODE_ID = '$output';

/** The ports of a node type, in order (from the catalogue, or a subgraph's definition). */
export interface TypePorts {
  readonly inputs: Readonly<Record<string, { readonly type: string; readonly optional?: boolean }>>;
  readonly outputs: Readonly<Record<string, { readonly type: string }>>;
}

/** `subgraph/<id>` → `<id>`, else undefined. */
export function subgraphIdOf(type: string): string | undefined {
  return type.startsWith(SUBGRAPH_TYPE_PREFIX) ? type.slice(SUBGRAPH_TYPE_PREFIX.length) : undefined;
}

/**
 * The ports of a subgraph's instances: its declared inputs, and outputs typed by the inner outputs they
 * give (through nested subgraphs). `portsOf` gives the ports of ordinary node types.
 */
export function subgraphPorts(
  subgraphs: Readonly<Record<string, Subgraph>>,
  id: string,
  portsOf: (type: string) => TypePorts | undefined,
  depth = 0,
): TypePorts | undefined {
  const def = subgraphs[id];
  if (!def || depth > 16) return undefined;
  const inputs: Record<string, { type: string; optional?: boolean }> = {};
  for (const [name, input] of Object.entries(def.inputs ?? {}))
    inputs[name] = { type: input.type, ...(input.optional ? { optional: true } : {}) };
  const outputs: Record<string, { type: string }> = {};
  for (const [name, out] of Object.entries(def.outputs ?? {})) {
    let type = '*';
    if (out.node === SUBGRAPH_INPUT_NODE) type = def.inputs?.[out.output]?.type ?? '*';
    else {
      const inner = def.nodes[out.node];
      const nested = inner ? subgraphIdOf(inner.type) : undefined;
      const ports = inner
        ? nested !== undefined
          ? subgraphPorts(subgraphs, nested, portsOf, depth + 1)
          : portsOf(inner.type)
        : undefined;
      type = ports?.outputs[out.output]?.type ?? '*';
    }
    outputs[name] = { type };
  }
  return { inputs, outputs };
}

/** A name not in `taken` (`name`, `name_2`, ...), made to fit the id pattern. */
export function uniqueName(base: string, taken: ReadonlySet<string> | readonly string[]): string {
  const set = taken instanceof Set ? taken : new Set(taken);
  const clean = base.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^[^A-Za-z_]+/, '') || 'port';
  let name = clean.slice(0, 60);
  for (let i = 2; set.has(name); i++) name = `${clean.slice(0, 56)}_${i}`;
  return name;
}

/** What a new subgraph is called, and which params it exposes. */
export interface ConvertOptions {
  readonly name: string;
  readonly params?: readonly { readonly node: string; readonly param: string }[];
  readonly portsOf: (type: string) => TypePorts | undefined;
}

/**
 * Replaces the nodes `ids` with one instance of a new subgraph that holds them. The subgraph's inputs are
 * what the selection reads from outside (one per outside output) and the inputs it leaves unconnected; its
 * outputs are what is read from outside and the outputs nothing reads; `params` become the instance's.
 */
export function convertToSubgraph(
  workflow: Workflow,
  ids: readonly string[],
  options: ConvertOptions,
): { workflow: Workflow; instanceId: string; subgraphId: string } {
  const selected = new Set(ids.filter((id) => workflow.nodes[id]));
  if (!selected.size) throw new Error('Select the nodes to put in the subgraph.');
  const subgraphs = { ...(workflow.subgraphs ?? {}) };
  const portsOf = (type: string) => {
    const nested = subgraphIdOf(type);
    return nested !== undefined ? subgraphPorts(subgraphs, nested, options.portsOf) : options.portsOf(type);
  };
  const subgraphId = uniqueName(options.name.toLowerCase().replace(/\s+/g, '-') || 'subgraph', Object.keys(subgraphs));
  const instanceId = uniqueName(subgraphId, Object.keys(workflow.nodes));

  const inner: Record<string, WorkflowNode> = {};
  const inputs: NonNullable<Subgraph['inputs']> = {};
  const outputs: NonNullable<Subgraph['outputs']> = {};
  const instanceInputs: Record<string, { node: string; output: string }> = {};
  const inputBySource = new Map<string, string>();

  for (const id of selected) {
    const node = structuredClone(workflow.nodes[id]!);
    const ports = portsOf(node.type);
    const edges: Record<string, { node: string; output: string }> = {};
    const portNames = new Set([...Object.keys(ports?.inputs ?? {}), ...Object.keys(node.inputs ?? {})]);
    for (const port of portNames) {
      const edge = node.inputs?.[port];
      if (edge && selected.has(edge.node)) {
        edges[port] = edge;
        continue;
      }
      const spec = ports?.inputs[port];
      if (!edge && !spec) continue;
      // One subgraph input per outside output: two inner nodes reading the same source share it.
      const key = edge ? `${edge.node}\u0000${edge.output}` : `open\u0000${id}\u0000${port}`;
      let name = inputBySource.get(key);
      if (!name) {
        name = uniqueName(port, Object.keys(inputs));
        inputBySource.set(key, name);
        inputs[name] = { type: spec?.type ?? '*', ...(!edge && spec?.optional ? { optional: true } : {}) };
        if (edge) instanceInputs[name] = { ...edge };
      }
      edges[port] = { node: SUBGRAPH_INPUT_NODE, output: name };
    }
    node.inputs = edges;
    if (!Object.keys(edges).length) delete node.inputs;
    inner[id] = node;
  }

  // Outputs: those read from outside (one per inner output), then those nothing reads.
  const outputByInner = new Map<string, string>();
  const rewired: Record<string, WorkflowNode> = {};
  for (const [id, node] of Object.entries(workflow.nodes)) {
    if (selected.has(id)) continue;
    let changed = false;
    const edges = { ...(node.inputs ?? {}) };
    for (const [port, edge] of Object.entries(edges)) {
      if (!selected.has(edge.node)) continue;
      const key = `${edge.node}\u0000${edge.output}`;
      let name = outputByInner.get(key);
      if (!name) {
        name = uniqueName(edge.output, Object.keys(outputs));
        outputByInner.set(key, name);
        outputs[name] = { node: edge.node, output: edge.output };
      }
      edges[port] = { node: instanceId, output: name };
      changed = true;
    }
    rewired[id] = changed ? { ...node, inputs: edges } : node;
  }
  const readInside = new Set(
    Object.values(inner).flatMap((n) => Object.values(n.inputs ?? {}).map((e) => `${e.node}\u0000${e.output}`)),
  );
  for (const id of selected) {
    for (const output of Object.keys(portsOf(inner[id]!.type)?.outputs ?? {})) {
      const key = `${id}\u0000${output}`;
      if (outputByInner.has(key) || readInside.has(key)) continue;
      const name = uniqueName(output, Object.keys(outputs));
      outputByInner.set(key, name);
      outputs[name] = { node: id, output };
    }
  }

  const params: NonNullable<Subgraph['params']> = {};
  const instanceParams: Record<string, unknown> = {};
  for (const { node, param } of options.params ?? []) {
    if (!inner[node]) continue;
    const name = uniqueName(Object.keys(params).includes(param) ? `${node}_${param}` : param, Object.keys(params));
    params[name] = { node, param };
    const value = inner[node]!.params?.[param];
    if (value !== undefined) instanceParams[name] = structuredClone(value);
  }

  // The instance sits where the selection was; the inside keeps its layout, with inputs left of it and
  // outputs right of it.
  const positions = [...selected].map((id) => workflow.nodes[id]!.ui?.pos).filter((p): p is [number, number] => !!p);
  const minX = positions.length ? Math.min(...positions.map((p) => p[0])) : 0;
  const minY = positions.length ? Math.min(...positions.map((p) => p[1])) : 0;
  const maxX = positions.length ? Math.max(...positions.map((p) => p[0])) : 0;
  const definition: Subgraph = {
    name: options.name,
    ...(Object.keys(inputs).length ? { inputs } : {}),
    ...(Object.keys(outputs).length ? { outputs } : {}),
    ...(Object.keys(params).length ? { params } : {}),
    nodes: inner,
    ui: { inputsPos: [minX - 340, minY], outputsPos: [maxX + 360, minY] } as Subgraph['ui'],
  };
  subgraphs[subgraphId] = definition;
  const instance: WorkflowNode = {
    type: `${SUBGRAPH_TYPE_PREFIX}${subgraphId}`,
    version: 1,
    ...(Object.keys(instanceParams).length ? { params: instanceParams } : {}),
    ...(Object.keys(instanceInputs).length ? { inputs: instanceInputs } : {}),
    ...(positions.length ? { ui: { pos: [minX, minY] as [number, number] } } : {}),
  };
  const nodes: Record<string, WorkflowNode> = {};
  let placed = false;
  // The instance takes the place of the first selected node, so the order of nodes reads naturally.
  for (const id of Object.keys(workflow.nodes)) {
    if (selected.has(id)) {
      if (!placed) nodes[instanceId] = instance;
      placed = true;
      continue;
    }
    nodes[id] = rewired[id]!;
  }
  return { workflow: { ...dropReroutes(workflow, selected), nodes, subgraphs }, instanceId, subgraphId };
}

/**
 * Replaces instance `instanceId` with the nodes of its subgraph (fresh ids where they would clash), its
 * exposed params written back into them and its edges reconnected. The subgraph is dropped when no other
 * instance uses it. A muted or bypassed instance's mode goes to each node.
 */
export function unpackSubgraph(workflow: Workflow, instanceId: string): { workflow: Workflow; nodeIds: string[] } {
  const instance = workflow.nodes[instanceId];
  const subgraphId = instance ? subgraphIdOf(instance.type) : undefined;
  const def = subgraphId !== undefined ? workflow.subgraphs?.[subgraphId] : undefined;
  if (!instance || subgraphId === undefined || !def) throw new Error(`"${instanceId}" is not a subgraph instance.`);
  const taken = new Set(Object.keys(workflow.nodes).filter((id) => id !== instanceId));
  const rename = new Map<string, string>();
  for (const id of Object.keys(def.nodes)) {
    const fresh = taken.has(id) ? uniqueName(id, taken) : id;
    taken.add(fresh);
    rename.set(id, fresh);
  }
  const sourceOf = (edge: { node: string; output: string }) =>
    edge.node === SUBGRAPH_INPUT_NODE
      ? instance.inputs?.[edge.output]
      : { node: rename.get(edge.node)!, output: edge.output };

  // Inner layout, moved so that its top-left corner is where the instance was.
  const positions = Object.values(def.nodes)
    .map((n) => n.ui?.pos)
    .filter((p): p is [number, number] => !!p);
  const at = instance.ui?.pos ?? [0, 0];
  const dx = positions.length ? at[0] - Math.min(...positions.map((p) => p[0])) : 0;
  const dy = positions.length ? at[1] - Math.min(...positions.map((p) => p[1])) : 0;

  const unpacked: Record<string, WorkflowNode> = {};
  for (const [id, original] of Object.entries(def.nodes)) {
    const node = structuredClone(original);
    const inputs: Record<string, { node: string; output: string }> = {};
    for (const [port, edge] of Object.entries(node.inputs ?? {})) {
      const source = sourceOf(edge);
      if (source) inputs[port] = { ...source };
    }
    if (Object.keys(inputs).length) node.inputs = inputs;
    else delete node.inputs;
    for (const [name, value] of Object.entries(instance.params ?? {})) {
      const target = def.params?.[name];
      if (target?.node === id) node.params = { ...(node.params ?? {}), [target.param]: structuredClone(value) };
    }
    if (instance.mode && !node.mode) node.mode = instance.mode;
    if (node.ui?.pos) node.ui = { ...node.ui, pos: [node.ui.pos[0] + dx, node.ui.pos[1] + dy] };
    unpacked[rename.get(id)!] = node;
  }
  const nodes: Record<string, WorkflowNode> = {};
  for (const [id, node] of Object.entries(workflow.nodes)) {
    if (id === instanceId) {
      Object.assign(nodes, unpacked);
      continue;
    }
    const inputs: Record<string, { node: string; output: string }> = {};
    for (const [port, edge] of Object.entries(node.inputs ?? {})) {
      if (edge.node !== instanceId) {
        inputs[port] = edge;
        continue;
      }
      const out = def.outputs?.[edge.output];
      const source = out ? sourceOf(out) : undefined;
      if (source) inputs[port] = { ...source };
    }
    nodes[id] = Object.keys(inputs).length || node.inputs ? { ...node, inputs } : node;
    if (!Object.keys(inputs).length) delete nodes[id]!.inputs;
  }
  const stillUsed = Object.values(nodes).some((n) => n.type === instance.type) || usedInside(workflow, instance.type);
  const subgraphs = { ...(workflow.subgraphs ?? {}) };
  if (!stillUsed) delete subgraphs[subgraphId];
  const result: Workflow = { ...dropReroutes(workflow, new Set([instanceId])), nodes };
  if (Object.keys(subgraphs).length) result.subgraphs = subgraphs;
  else delete result.subgraphs;
  return { workflow: result, nodeIds: [...rename.values()] };
}

function usedInside(workflow: Workflow, type: string): boolean {
  return Object.values(workflow.subgraphs ?? {}).some((s) => Object.values(s.nodes).some((n) => n.type === type));
}

/** Reroutes on edges into `nodes` (whose edges change) are dropped. */
function dropReroutes(workflow: Workflow, nodes: ReadonlySet<string>): Workflow {
  if (!workflow.ui?.links?.length) return workflow;
  const links = workflow.ui.links.filter((l) => !nodes.has(l.node));
  return { ...workflow, ui: { ...workflow.ui, links } };
}

/**
 * The inside of subgraph `id` as a workflow the canvas can show: its nodes, its groups and reroutes, and
 * two editor-only nodes for its inputs (`$input`, whose outputs inner edges already read) and outputs
 * (`$output`, whose inputs are the subgraph's outputs).
 */
export function subgraphView(workflow: Workflow, id: string): Workflow {
  const def = workflow.subgraphs?.[id];
  if (!def) throw new Error(`The workflow has no subgraph "${id}".`);
  const ui = (def.ui ?? {}) as Record<string, unknown> & {
    inputsPos?: [number, number];
    outputsPos?: [number, number];
  };
  const { inputsPos, outputsPos, ...viewUi } = ui;
  const outputsEdges: Record<string, { node: string; output: string }> = {};
  for (const [name, out] of Object.entries(def.outputs ?? {}))
    outputsEdges[name] = { node: out.node, output: out.output };
  return {
    format: workflow.format,
    name: def.name,
    ...(def.description ? { description: def.description } : {}),
    nodes: {
      [INPUTS_NODE_ID]: {
        type: SUBGRAPH_INPUTS_TYPE,
        version: 1,
        params: { inputs: structuredClone(def.inputs ?? {}) },
        ui: { pos: inputsPos ?? [-300, 0] },
      },
      ...structuredClone(def.nodes),
      [OUTPUTS_NODE_ID]: {
        type: SUBGRAPH_OUTPUTS_TYPE,
        version: 1,
        params: {
          outputs: Object.fromEntries(Object.entries(def.outputs ?? {}).map(([n, o]) => [n, o.title ?? null])),
        },
        ...(Object.keys(outputsEdges).length ? { inputs: outputsEdges } : {}),
        ui: { pos: outputsPos ?? [900, 0] },
      },
    },
    ...(def.groups?.length ? { groups: structuredClone(def.groups) } : {}),
    ...(Object.keys(viewUi).length ? { ui: viewUi as Workflow['ui'] } : {}),
    ...(workflow.subgraphs ? { subgraphs: workflow.subgraphs } : {}),
  };
}

/**
 * Writes an edited view back into subgraph `id`: nodes, inputs (declared on the `$input` node), outputs
 * (the `$output` node's edges), groups and reroutes. Exposed params whose node is gone are dropped.
 */
export function applySubgraphView(workflow: Workflow, id: string, view: Workflow): Workflow {
  const old = workflow.subgraphs?.[id];
  if (!old) throw new Error(`The workflow has no subgraph "${id}".`);
  const { [INPUTS_NODE_ID]: inputsNode, [OUTPUTS_NODE_ID]: outputsNode, ...nodes } = view.nodes;
  const declared = (inputsNode?.params?.inputs ?? {}) as NonNullable<Subgraph['inputs']>;
  const titles = (outputsNode?.params?.outputs ?? {}) as Record<string, string | null>;
  const outputs: NonNullable<Subgraph['outputs']> = {};
  for (const [name, edge] of Object.entries(outputsNode?.inputs ?? {}))
    outputs[name] = { node: edge.node, output: edge.output, ...(titles[name] ? { title: titles[name] } : {}) };
  const params = Object.fromEntries(Object.entries(old.params ?? {}).filter(([, p]) => nodes[p.node]));
  const ui: Record<string, unknown> = { ...(view.ui ?? {}) };
  if (inputsNode?.ui?.pos) ui.inputsPos = inputsNode.ui.pos;
  if (outputsNode?.ui?.pos) ui.outputsPos = outputsNode.ui.pos;
  const def: Subgraph = {
    name: old.name,
    ...(old.description ? { description: old.description } : {}),
    ...(Object.keys(declared).length ? { inputs: declared } : {}),
    ...(Object.keys(outputs).length ? { outputs } : {}),
    ...(Object.keys(params).length ? { params } : {}),
    nodes,
    ...(view.groups?.length ? { groups: view.groups } : {}),
    ...(old.blueprint ? { blueprint: old.blueprint } : {}),
    ...(Object.keys(ui).length ? { ui: ui as Subgraph['ui'] } : {}),
  };
  return { ...workflow, subgraphs: { ...(workflow.subgraphs ?? {}), [id]: def } };
}

/** The open slot of the input and output nodes: a link to it adds an input or output. */
export const OPEN_SLOT = '+';

/**
 * Turns links to the open slot of an open subgraph's input or output node into new inputs or outputs,
 * named after the port at the other end (an input takes the type of the inner input it feeds). Returns the
 * changed view, or undefined when no link uses the open slot.
 */
export function fillOpenSlots(
  view: Workflow,
  inputTypeOf: (nodeType: string, port: string) => string | undefined,
): Workflow | undefined {
  const inputsNode = view.nodes[INPUTS_NODE_ID];
  const outputsNode = view.nodes[OUTPUTS_NODE_ID];
  if (!inputsNode || !outputsNode) return undefined;
  let changed = false;
  const next = structuredClone(view);
  const declared = { ...((inputsNode.params?.inputs ?? {}) as NonNullable<Subgraph['inputs']>) };
  for (const [id, node] of Object.entries(next.nodes)) {
    if (id === INPUTS_NODE_ID || id === OUTPUTS_NODE_ID) continue;
    for (const [port, edge] of Object.entries(node.inputs ?? {})) {
      if (edge.node !== INPUTS_NODE_ID || edge.output !== OPEN_SLOT) continue;
      const name = uniqueName(port, Object.keys(declared));
      declared[name] = { type: inputTypeOf(node.type, port)?.split(',')[0] ?? '*' };
      edge.output = name;
      changed = true;
    }
  }
  const outputs = next.nodes[OUTPUTS_NODE_ID]!;
  const added = outputs.inputs?.[OPEN_SLOT];
  if (added) {
    const { [OPEN_SLOT]: _open, ...rest } = outputs.inputs!;
    const name = uniqueName(added.output, Object.keys(rest));
    outputs.inputs = { ...rest, [name]: added };
    changed = true;
  }
  if (!changed) return undefined;
  next.nodes[INPUTS_NODE_ID] = { ...next.nodes[INPUTS_NODE_ID]!, params: { inputs: declared } };
  return next;
}

/** Every node of the workflow, top level and inside subgraphs, with where it lives. */
function* allNodes(workflow: Workflow): Generator<WorkflowNode> {
  yield* Object.values(workflow.nodes);
  for (const def of Object.values(workflow.subgraphs ?? {})) yield* Object.values(def.nodes);
}

/**
 * The workflow's levels (the top level, then each subgraph's inside) with the ids of the nodes of `type` on
 * each: what reads an instance's output names that instance, which is on the reader's own level.
 */
function* instancesByLevel(
  workflow: Workflow,
  type: string,
): Generator<{ nodes: WorkflowNode[]; instances: ReadonlySet<string> }> {
  for (const level of [workflow.nodes, ...Object.values(workflow.subgraphs ?? {}).map((s) => s.nodes)]) {
    const instances = new Set(
      Object.entries(level)
        .filter(([, n]) => n.type === type)
        .map(([k]) => k),
    );
    yield { nodes: Object.values(level), instances };
  }
}

/**
 * Renames an input or output of subgraph `id`, in the subgraph and on every instance of it (their edges,
 * and what reads their outputs). Returns the new workflow; throws when `to` is taken or not a valid name.
 */
export function renamePort(
  workflow: Workflow,
  id: string,
  side: 'input' | 'output',
  from: string,
  to: string,
): Workflow {
  const next = structuredClone(workflow);
  const def = next.subgraphs?.[id];
  if (!def) throw new Error(`The workflow has no subgraph "${id}".`);
  const ports = (side === 'input' ? def.inputs : def.outputs) ?? {};
  if (!(from in ports)) throw new Error(`Subgraph "${def.name}" has no ${side} "${from}".`);
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(to))
    throw new Error(`"${to}" is not a valid name: letters, digits, _ and - only.`);
  if (to in ports) throw new Error(`Subgraph "${def.name}" already has an ${side} "${to}".`);
  const renamed = Object.fromEntries(Object.entries(ports).map(([k, v]) => [k === from ? to : k, v]));
  const type = `${SUBGRAPH_TYPE_PREFIX}${id}`;
  if (side === 'input') {
    def.inputs = renamed as NonNullable<Subgraph['inputs']>;
    for (const node of Object.values(def.nodes))
      for (const edge of Object.values(node.inputs ?? {}))
        if (edge.node === SUBGRAPH_INPUT_NODE && edge.output === from) edge.output = to;
    for (const node of allNodes(next))
      if (node.type === type && node.inputs?.[from])
        node.inputs = Object.fromEntries(Object.entries(node.inputs).map(([k, v]) => [k === from ? to : k, v]));
  } else {
    def.outputs = renamed as NonNullable<Subgraph['outputs']>;
    for (const { nodes, instances } of instancesByLevel(next, type))
      for (const node of nodes)
        for (const edge of Object.values(node.inputs ?? {}))
          if (instances.has(edge.node) && edge.output === from) edge.output = to;
  }
  return next;
}

/** Removes an input or output of subgraph `id`, and the edges that used it inside and on its instances. */
export function removePort(workflow: Workflow, id: string, side: 'input' | 'output', name: string): Workflow {
  const next = structuredClone(workflow);
  const def = next.subgraphs?.[id];
  if (!def) throw new Error(`The workflow has no subgraph "${id}".`);
  const type = `${SUBGRAPH_TYPE_PREFIX}${id}`;
  const dropEdges = (node: WorkflowNode, test: (e: { node: string; output: string }, port: string) => boolean) => {
    if (!node.inputs) return;
    node.inputs = Object.fromEntries(Object.entries(node.inputs).filter(([port, e]) => !test(e, port)));
    if (!Object.keys(node.inputs).length) delete node.inputs;
  };
  if (side === 'input') {
    if (def.inputs) delete def.inputs[name];
    for (const node of Object.values(def.nodes))
      dropEdges(node, (e) => e.node === SUBGRAPH_INPUT_NODE && e.output === name);
    for (const node of allNodes(next)) if (node.type === type) dropEdges(node, (_e, port) => port === name);
  } else {
    if (def.outputs) delete def.outputs[name];
    for (const { nodes, instances } of instancesByLevel(next, type))
      for (const node of nodes) dropEdges(node, (e) => instances.has(e.node) && e.output === name);
  }
  return next;
}
