/**
 * Lossless conversion between litegraph's serialised graph (what `LGraph.serialize()` returns and
 * `LGraph.configure()` takes) and a Kinegraph workflow document (core's {@link Workflow}). Node ids, types,
 * versions, params, edges (by port name), positions, sizes, titles, colours, groups and reroutes survive both
 * ways. Pure data: no litegraph import, so the server and tests can use it too.
 *
 * Everything a workflow has that litegraph has no field for lives in each node's
 * `properties.kinegraph` (and the graph's `extra.kinegraph`), which litegraph keeps as opaque data.
 */
import { WORKFLOW_FORMAT, type Workflow, type WorkflowNode } from '@kinegraph/core';

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
  flags?: { collapsed?: boolean; pinned?: boolean; [key: string]: unknown };
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

/** A reroute as litegraph serialises it (in `extra.reroutes` of a `version: 0.4` graph). */
export interface LiteReroute {
  id: number;
  parentId?: number;
  pos: number[];
  linkIds: number[];
  floating?: unknown;
}

/** A litegraph graph as serialised (`version: 0.4`). */
export interface LiteGraphData {
  last_node_id: number | string;
  last_link_id: number;
  nodes: LiteNode[];
  links: LiteLink[];
  groups: LiteGroup[];
  config?: Record<string, unknown>;
  extra?: {
    kinegraph?: WorkflowHeader;
    reroutes?: LiteReroute[];
    /** The last reroute each link passes through, for links that pass any. */
    linkExtensions?: { id: number; parentId: number }[];
    [key: string]: unknown;
  };
  version: number;
  [key: string]: unknown;
}

/** Top-level workflow fields that the conversion carries through untouched. */
type WorkflowHeader = Pick<Workflow, '$schema' | 'name' | 'description' | 'metadata'> & {
  /** Keys of the workflow's `ui` other than the reroutes, which litegraph holds itself. */
  ui?: Record<string, unknown>;
};

/** A node's `ui` section, with the keys the schema leaves open. */
type NodeUi = NonNullable<WorkflowNode['ui']> & Record<string, unknown>;

/** The workflow's editor-only section. */
type WorkflowUi = NonNullable<Workflow['ui']>;

/** The ports and title a node type has, in slot order: what the editor's palette knows. */
export interface PortLayout {
  title: string;
  inputs: { name: string; type: string }[];
  outputs: { name: string; type: string }[];
}

/** litegraph's node modes (`LGraphEventMode`) for the workflow's: mute is NEVER, bypass is BYPASS. */
export const LITEGRAPH_MODE = { always: 0, mute: 2, bypass: 4 } as const;

/** Size litegraph gives a node when nothing else is known. */
const DEFAULT_SIZE: [number, number] = [240, 120];
/** litegraph's default group colour and font size: not written back when unchanged. */
const DEFAULT_GROUP_COLOR = '#3f789e';
const DEFAULT_GROUP_FONT = 24;

/**
 * A workflow as a litegraph graph. `layoutOf` gives each node type's ports in slot order; a type it does
 * not know keeps the ports its edges use, so nothing is lost for a plugin that is not installed.
 */
export function workflowToGraph(workflow: Workflow, layoutOf: (type: string) => PortLayout | undefined): LiteGraphData {
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
  const linkByInput = new Map<string, number>();
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
      linkByInput.set(inputKey(id, slot.name), linkId);
      const outs = ensure(outputLinks, edge.node);
      outs.set(edge.output, [...(outs.get(edge.output) ?? []), linkId]);
    }
  }

  const nodes = ids.map((id, index): LiteNode => {
    const node = workflow.nodes[id]!;
    const layout = layouts.get(id)!;
    const { pos, size, title, collapsed, pinned, color, bgcolor, ...uiExtra } = (node.ui ?? {}) as NodeUi;
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
      flags: { ...(collapsed ? { collapsed: true } : {}), ...(pinned === true ? { pinned: true } : {}) },
      order: index,
      mode: node.mode ? LITEGRAPH_MODE[node.mode] : LITEGRAPH_MODE.always,
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

  const { reroutes: savedReroutes, links: savedLinks, ...uiRest } = workflow.ui ?? {};
  const header: WorkflowHeader = {};
  if (workflow.$schema !== undefined) header.$schema = workflow.$schema;
  if (workflow.name !== undefined) header.name = workflow.name;
  if (workflow.description !== undefined) header.description = workflow.description;
  if (workflow.metadata !== undefined) header.metadata = structuredClone(workflow.metadata);
  if (Object.keys(uiRest).length) header.ui = structuredClone(uiRest);

  const extra: NonNullable<LiteGraphData['extra']> = { kinegraph: header };
  const reroutes = reroutesToGraph(savedReroutes ?? [], savedLinks ?? [], linkByInput);
  if (reroutes.reroutes.length) {
    extra.reroutes = reroutes.reroutes;
    extra.linkExtensions = reroutes.linkExtensions;
  }

  return {
    last_node_id: ids.length,
    last_link_id: links.length,
    nodes,
    links,
    groups: (workflow.groups ?? []).map((g, i) => {
      const { title, bounding, color, fontSize, pinned, ...rest } = g as typeof g & {
        fontSize?: unknown;
        pinned?: unknown;
      };
      return {
        id: i + 1,
        title,
        bounding: [...bounding],
        color: color ?? DEFAULT_GROUP_COLOR,
        font_size: typeof fontSize === 'number' ? fontSize : DEFAULT_GROUP_FONT,
        flags: pinned === true ? { pinned: true } : {},
        ...structuredClone(rest),
      };
    }),
    config: {},
    extra,
    version: 0.4,
  };
}

/**
 * The workflow's reroutes as litegraph's: each edge names the last reroute it passes, and each reroute its
 * parent (the one before it, coming from the output), so a reroute's links are every edge whose chain
 * reaches it. Reroutes that no edge passes, and edges into inputs that are not drawn, are dropped.
 */
function reroutesToGraph(
  saved: NonNullable<WorkflowUi['reroutes']>,
  edges: NonNullable<WorkflowUi['links']>,
  linkByInput: ReadonlyMap<string, number>,
): { reroutes: LiteReroute[]; linkExtensions: { id: number; parentId: number }[] } {
  const byId = new Map(saved.map((r) => [r.id, r]));
  const linkIds = new Map<number, number[]>();
  const linkExtensions: { id: number; parentId: number }[] = [];
  for (const edge of edges) {
    const linkId = linkByInput.get(inputKey(edge.node, edge.input));
    if (linkId === undefined || !byId.has(edge.reroute)) continue;
    linkExtensions.push({ id: linkId, parentId: edge.reroute });
    // Walk towards the output; a parent loop (hand-edited file) stops at the first repeat.
    const seen = new Set<number>();
    for (let r = byId.get(edge.reroute); r && !seen.has(r.id); r = r.parent ? byId.get(r.parent) : undefined) {
      seen.add(r.id);
      linkIds.set(r.id, [...(linkIds.get(r.id) ?? []), linkId]);
    }
  }
  const reroutes = saved
    .filter((r) => linkIds.has(r.id))
    .map(
      (r): LiteReroute => ({
        id: r.id,
        ...(r.parent !== undefined && linkIds.has(r.parent) ? { parentId: r.parent } : {}),
        pos: [r.pos[0], r.pos[1]],
        linkIds: linkIds.get(r.id)!,
      }),
    );
  return { reroutes, linkExtensions };
}

/** A litegraph graph as a workflow. Numeric ids (nodes made outside the editor's id scheme) become `node_<n>`. */
export function graphToWorkflow(graph: LiteGraphData): Workflow {
  const idOf = (id: number | string) => (typeof id === 'string' ? id : `node_${id}`);
  const byId = new Map(graph.nodes.map((n) => [String(n.id), n]));
  const linkById = new Map(graph.links.map((l) => [l[0], l]));
  const nodes: Record<string, WorkflowNode> = {};
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
    const ui: NodeUi = {};
    const pos: [number, number] = [n.pos[0]!, n.pos[1]!];
    const size: [number, number] = [n.size[0]!, n.size[1]!];
    if (!sameVec(pos, data?.auto?.pos)) ui.pos = pos;
    if (!sameVec(size, data?.auto?.size)) ui.size = size;
    if (n.title !== undefined && n.title !== (data?.defaultTitle ?? n.type)) ui.title = n.title;
    if (n.flags?.collapsed) ui.collapsed = true;
    if (n.flags?.pinned) ui.pinned = true;
    if (n.color !== undefined) ui.color = n.color;
    if (n.bgcolor !== undefined) ui.bgcolor = n.bgcolor;
    Object.assign(ui, structuredClone(data?.uiExtra ?? {}));
    const mode = n.mode === LITEGRAPH_MODE.mute ? 'mute' : n.mode === LITEGRAPH_MODE.bypass ? 'bypass' : undefined;
    nodes[idOf(n.id)] = {
      type: n.type,
      version: data?.version ?? 1,
      ...(data?.params !== undefined ? { params: structuredClone(data.params) } : {}),
      ...(Object.keys(inputs).length ? { inputs } : {}),
      ...(mode ? { mode } : {}),
      ...(Object.keys(ui).length ? { ui } : {}),
    };
  }
  const header = graph.extra?.kinegraph ?? {};
  const workflow: Workflow = {
    ...(header.$schema !== undefined ? { $schema: header.$schema } : {}),
    format: WORKFLOW_FORMAT,
    ...(header.name !== undefined ? { name: header.name } : {}),
    ...(header.description !== undefined ? { description: header.description } : {}),
    nodes,
  };
  if (graph.groups.length) {
    workflow.groups = graph.groups.map((g) => {
      const { id: _id, title, bounding, color, font_size, flags, ...rest } = g;
      return {
        title,
        bounding: [bounding[0]!, bounding[1]!, bounding[2]!, bounding[3]!],
        ...(color !== undefined && color !== DEFAULT_GROUP_COLOR ? { color } : {}),
        ...(font_size !== undefined && font_size !== DEFAULT_GROUP_FONT ? { fontSize: font_size } : {}),
        ...(flags?.pinned ? { pinned: true } : {}),
        ...structuredClone(rest),
      };
    });
  }
  const ui: WorkflowUi = { ...structuredClone(header.ui ?? {}), ...reroutesToWorkflow(graph, idOf) };
  if (Object.keys(ui).length) workflow.ui = ui;
  if (header.metadata !== undefined) workflow.metadata = structuredClone(header.metadata);
  return workflow;
}

/**
 * litegraph's reroutes as the workflow's: the reroutes some link passes (in id order), each with its parent,
 * and for each such link the input it ends at and the last reroute before it.
 */
function reroutesToWorkflow(graph: LiteGraphData, idOf: (id: number | string) => string): WorkflowUi {
  const reroutes = new Map((graph.extra?.reroutes ?? []).map((r) => [r.id, r]));
  if (!reroutes.size) return {};
  const byId = new Map(graph.nodes.map((n) => [String(n.id), n]));
  const linkById = new Map(graph.links.map((l) => [l[0], l]));
  const used = new Set<number>();
  const links: NonNullable<WorkflowUi['links']> = [];
  for (const { id, parentId } of graph.extra?.linkExtensions ?? []) {
    const link = linkById.get(id);
    const target = link ? byId.get(String(link[3])) : undefined;
    const input = target?.inputs?.[link![4]];
    if (!link || !target || !input || !reroutes.has(parentId)) continue;
    links.push({ node: idOf(target.id), input: input.name, reroute: parentId });
    const seen = new Set<number>();
    for (let r = reroutes.get(parentId); r && !seen.has(r.id); r = r.parentId ? reroutes.get(r.parentId) : undefined) {
      seen.add(r.id);
      used.add(r.id);
    }
  }
  if (!links.length) return {};
  links.sort((a, b) => (a.node === b.node ? a.input.localeCompare(b.input) : a.node.localeCompare(b.node)));
  return {
    reroutes: [...used]
      .sort((a, b) => a - b)
      .map((id) => {
        const r = reroutes.get(id)!;
        return {
          id,
          pos: [r.pos[0]!, r.pos[1]!] as [number, number],
          ...(r.parentId !== undefined && used.has(r.parentId) ? { parent: r.parentId } : {}),
        };
      }),
    links,
  };
}

function inputKey(node: string, input: string): string {
  return `${node}\u0000${input}`;
}

function ensure<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = map.get(key);
  if (!inner) map.set(key, (inner = new Map()));
  return inner;
}

function sameVec(a: readonly number[], b: readonly number[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);
}
