/**
 * Lossless conversion between litegraph's serialised graph (what `LGraph.serialize()` returns and
 * `LGraph.configure()` takes) and a `kinegraph/workflow@1` document. Node ids, types, versions, params,
 * edges (by port name), positions, sizes, titles, colours and groups survive both ways. Pure data: no
 * litegraph import, so the server and tests can use it too.
 *
 * Everything a workflow has that litegraph has no field for lives in each node's
 * `properties.kinegraph` (and the graph's `extra.kinegraph`), which litegraph keeps as opaque data.
 */

/** A litegraph input slot as serialised. */
export interface LiteInput {
  name: string;
  type: string | number;
  link: number | null;
  [key: string]: unknown;
}

/** A litegraph output slot as serialised. */
export interface LiteOutput {
  name: string;
  type: string | number;
  links: number[] | null;
  [key: string]: unknown;
}

/** What a node keeps for the conversion back (in `properties.kinegraph`). */
export interface KinegraphNodeData {
  version: number;
  params?: Record<string, unknown>;
  /** `ui` keys of the workflow that litegraph has no field for. */
  uiExtra?: Record<string, unknown>;
  /** The type's own title: a node whose title equals it saves no `ui.title`. */
  defaultTitle?: string;
  /** Positions and sizes the editor made up (the workflow had none): not saved while unchanged. */
  auto?: { pos?: [number, number]; size?: [number, number] };
}

/** A litegraph node as serialised. */
export interface LiteNode {
  id: number | string;
  type: string;
  pos: [number, number] | number[];
  size: [number, number] | number[];
  title?: string;
  flags?: { collapsed?: boolean; [key: string]: unknown };
  order?: number;
  mode?: number;
  color?: string;
  bgcolor?: string;
  inputs?: LiteInput[];
  outputs?: LiteOutput[];
  properties?: { kinegraph?: KinegraphNodeData; [key: string]: unknown };
  [key: string]: unknown;
}

/** `[id, origin_id, origin_slot, target_id, target_slot, type]` */
export type LiteLink = [number, number | string, number, number | string, number, string | number];

/** A litegraph group as serialised. */
export interface LiteGroup {
  id?: number;
  title: string;
  bounding: number[];
  color?: string;
  font_size?: number;
  flags?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A litegraph graph as serialised (`version: 0.4`). */
export interface LiteGraphData {
  last_node_id: number | string;
  last_link_id: number;
  nodes: LiteNode[];
  links: LiteLink[];
  groups: LiteGroup[];
  config?: Record<string, unknown>;
  extra?: { kinegraph?: WorkflowHeader; [key: string]: unknown };
  version: number;
  [key: string]: unknown;
}

/** Top-level workflow fields other than nodes and groups. */
interface WorkflowHeader {
  $schema?: string;
  name?: string;
  description?: string;
  metadata?: Record<string, unknown>;
}

/** A `kinegraph/workflow@1` document (structurally; validation is the server's job). */
export interface WorkflowDoc extends WorkflowHeader {
  format: 'kinegraph/workflow@1';
  nodes: Record<string, WorkflowNodeDoc>;
  groups?: WorkflowGroupDoc[];
}

export interface WorkflowNodeDoc {
  type: string;
  version: number;
  params?: Record<string, unknown>;
  inputs?: Record<string, { node: string; output: string }>;
  ui?: {
    pos?: [number, number];
    size?: [number, number];
    title?: string;
    collapsed?: boolean;
    color?: string;
    [key: string]: unknown;
  };
}

export interface WorkflowGroupDoc {
  title: string;
  bounding: [number, number, number, number];
  color?: string;
  [key: string]: unknown;
}

/** The ports and title a node type has, in slot order: what the editor's palette knows. */
export interface PortLayout {
  title: string;
  inputs: { name: string; type: string }[];
  outputs: { name: string; type: string }[];
}

/** Size litegraph gives a node when nothing else is known. */
const DEFAULT_SIZE: [number, number] = [240, 120];
/** litegraph's default group colour and font size: not written back when unchanged. */
const DEFAULT_GROUP_COLOR = '#3f789e';
const DEFAULT_GROUP_FONT = 24;

/**
 * A workflow as a litegraph graph. `layoutOf` gives each node type's ports in slot order; a type it does
 * not know keeps the ports its edges use, so nothing is lost for a plugin that is not installed.
 */
export function workflowToGraph(
  workflow: WorkflowDoc,
  layoutOf: (type: string) => PortLayout | undefined,
): LiteGraphData {
  const ids = Object.keys(workflow.nodes);
  // Ports of unknown types, gathered from the edges that use them.
  const layouts = new Map<string, PortLayout>();
  for (const id of ids) {
    const node = workflow.nodes[id]!;
    const known = layoutOf(node.type);
    layouts.set(
      id,
      known
        ? { title: known.title, inputs: [...known.inputs], outputs: [...known.outputs] }
        : { title: node.type, inputs: [], outputs: [] },
    );
  }
  for (const id of ids) {
    const layout = layouts.get(id)!;
    for (const [port, edge] of Object.entries(workflow.nodes[id]!.inputs ?? {})) {
      if (!layout.inputs.some((p) => p.name === port)) layout.inputs.push({ name: port, type: '*' });
      const source = layouts.get(edge.node);
      if (source && !source.outputs.some((p) => p.name === edge.output))
        source.outputs.push({ name: edge.output, type: '*' });
    }
  }

  const links: LiteLink[] = [];
  const inputLinks = new Map<string, Map<string, number>>();
  const outputLinks = new Map<string, Map<string, number[]>>();
  for (const id of ids) {
    const layout = layouts.get(id)!;
    const inputs = workflow.nodes[id]!.inputs ?? {};
    // Slot order, so link ids come out the same every time.
    for (const slot of layout.inputs) {
      const edge = inputs[slot.name];
      if (!edge) continue;
      const source = layouts.get(edge.node);
      // An edge to a node that is not there cannot be drawn; validation reports it (INPUT_NODE_MISSING).
      if (!source) continue;
      const originSlot = source.outputs.findIndex((p) => p.name === edge.output);
      const linkId = links.length + 1;
      links.push([linkId, edge.node, originSlot, id, layout.inputs.indexOf(slot), source.outputs[originSlot]!.type]);
      ensure(inputLinks, id).set(slot.name, linkId);
      const outs = ensure(outputLinks, edge.node);
      outs.set(edge.output, [...(outs.get(edge.output) ?? []), linkId]);
    }
  }

  const nodes = ids.map((id, index): LiteNode => {
    const node = workflow.nodes[id]!;
    const layout = layouts.get(id)!;
    const { pos, size, title, collapsed, color, bgcolor, ...uiExtra } = node.ui ?? {};
    const auto: NonNullable<KinegraphNodeData['auto']> = {};
    // Made-up positions: a row, left to right, for workflows written by hand.
    if (!pos) auto.pos = [40 + 300 * index, 60];
    if (!size) auto.size = [...DEFAULT_SIZE];
    const data: KinegraphNodeData = {
      version: node.version,
      ...(node.params !== undefined ? { params: structuredClone(node.params) } : {}),
      ...(Object.keys(uiExtra).length ? { uiExtra: structuredClone(uiExtra) } : {}),
      defaultTitle: layout.title,
      ...(auto.pos || auto.size ? { auto } : {}),
    };
    return {
      id,
      type: node.type,
      pos: [...(pos ?? auto.pos!)],
      size: [...(size ?? auto.size!)],
      title: title ?? layout.title,
      flags: collapsed ? { collapsed: true } : {},
      order: index,
      mode: 0,
      ...(color !== undefined ? { color } : {}),
      ...(typeof bgcolor === 'string' ? { bgcolor } : {}),
      inputs: layout.inputs.map((p) => ({ name: p.name, type: p.type, link: inputLinks.get(id)?.get(p.name) ?? null })),
      outputs: layout.outputs.map((p) => ({
        name: p.name,
        type: p.type,
        links: outputLinks.get(id)?.get(p.name) ?? null,
      })),
      properties: { kinegraph: data },
    };
  });

  const header: WorkflowHeader = {};
  if (workflow.$schema !== undefined) header.$schema = workflow.$schema;
  if (workflow.name !== undefined) header.name = workflow.name;
  if (workflow.description !== undefined) header.description = workflow.description;
  if (workflow.metadata !== undefined) header.metadata = structuredClone(workflow.metadata);

  return {
    last_node_id: ids.length,
    last_link_id: links.length,
    nodes,
    links,
    groups: (workflow.groups ?? []).map((g, i) => {
      const { title, bounding, color, fontSize, ...rest } = g;
      return {
        id: i + 1,
        title,
        bounding: [...bounding],
        color: color ?? DEFAULT_GROUP_COLOR,
        font_size: typeof fontSize === 'number' ? fontSize : DEFAULT_GROUP_FONT,
        flags: {},
        ...structuredClone(rest),
      };
    }),
    config: {},
    extra: { kinegraph: header },
    version: 0.4,
  };
}

/** A litegraph graph as a workflow. Numeric ids (nodes made outside the editor's id scheme) become `node_<n>`. */
export function graphToWorkflow(graph: LiteGraphData): WorkflowDoc {
  const idOf = (id: number | string) => (typeof id === 'string' ? id : `node_${id}`);
  const byId = new Map(graph.nodes.map((n) => [String(n.id), n]));
  const linkById = new Map(graph.links.map((l) => [l[0], l]));
  const nodes: Record<string, WorkflowNodeDoc> = {};
  for (const n of graph.nodes) {
    const data = n.properties?.kinegraph;
    const inputs: Record<string, { node: string; output: string }> = {};
    for (const input of n.inputs ?? []) {
      if (input.link === null || input.link === undefined) continue;
      const link = linkById.get(input.link);
      const origin = link ? byId.get(String(link[1])) : undefined;
      const output = origin?.outputs?.[link![2]];
      if (!link || !origin || !output) continue;
      inputs[input.name] = { node: idOf(origin.id), output: output.name };
    }
    const ui: NonNullable<WorkflowNodeDoc['ui']> = {};
    const pos: [number, number] = [n.pos[0]!, n.pos[1]!];
    const size: [number, number] = [n.size[0]!, n.size[1]!];
    if (!sameVec(pos, data?.auto?.pos)) ui.pos = pos;
    if (!sameVec(size, data?.auto?.size)) ui.size = size;
    if (n.title !== undefined && n.title !== (data?.defaultTitle ?? n.type)) ui.title = n.title;
    if (n.flags?.collapsed) ui.collapsed = true;
    if (n.color !== undefined) ui.color = n.color;
    if (n.bgcolor !== undefined) ui.bgcolor = n.bgcolor;
    Object.assign(ui, structuredClone(data?.uiExtra ?? {}));
    nodes[idOf(n.id)] = {
      type: n.type,
      version: data?.version ?? 1,
      ...(data?.params !== undefined ? { params: structuredClone(data.params) } : {}),
      ...(Object.keys(inputs).length ? { inputs } : {}),
      ...(Object.keys(ui).length ? { ui } : {}),
    };
  }
  const header = graph.extra?.kinegraph ?? {};
  const workflow: WorkflowDoc = {
    ...(header.$schema !== undefined ? { $schema: header.$schema } : {}),
    format: 'kinegraph/workflow@1',
    ...(header.name !== undefined ? { name: header.name } : {}),
    ...(header.description !== undefined ? { description: header.description } : {}),
    nodes,
  };
  if (graph.groups.length) {
    workflow.groups = graph.groups.map((g) => {
      const { id: _id, title, bounding, color, font_size, flags: _flags, ...rest } = g;
      return {
        title,
        bounding: [bounding[0]!, bounding[1]!, bounding[2]!, bounding[3]!],
        ...(color !== undefined && color !== DEFAULT_GROUP_COLOR ? { color } : {}),
        ...(font_size !== undefined && font_size !== DEFAULT_GROUP_FONT ? { fontSize: font_size } : {}),
        ...structuredClone(rest),
      };
    });
  }
  if (header.metadata !== undefined) workflow.metadata = structuredClone(header.metadata);
  return workflow;
}

function ensure<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = map.get(key);
  if (!inner) map.set(key, (inner = new Map()));
  return inner;
}

function sameVec(a: readonly number[], b: readonly number[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);
}
