/**
 * Subgraphs in the editor: a node class per subgraph of the open workflow (its instances, with the
 * subgraph's inputs, outputs and exposed params as widgets), and the two editor-only nodes that stand for a
 * subgraph's inputs and outputs while it is open.
 */
import { LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import type { BlueprintDescription, NodeDescription, Subgraph } from '@kinegraph/core';
import type { PortLayout } from '../shared/convert.js';
import {
  OPEN_SLOT as NEW_PORT,
  SUBGRAPH_INPUTS_TYPE,
  SUBGRAPH_OUTPUTS_TYPE,
  subgraphIdOf,
  subgraphPorts,
  type TypePorts,
} from '../shared/subgraph-ops.js';
import { type Catalog, inputSlotType } from './catalog.js';
import { type NodeHooks, registerDescription, SUBGRAPH_CATEGORY } from './node-types.js';

/** The ports of a node type: from the catalogue, or from a subgraph of `subgraphs`. */
export function portsFor(catalog: Catalog, subgraphs: Readonly<Record<string, Subgraph>>) {
  const byType = new Map(catalog.nodes.map((n) => [n.type, n]));
  const plain = (type: string): TypePorts | undefined => byType.get(type);
  return (type: string): TypePorts | undefined => {
    const id = subgraphIdOf(type);
    return id !== undefined ? subgraphPorts(subgraphs, id, plain) : plain(type);
  };
}

/** A subgraph's instances as a node description, so they get widgets and an inspector like any node. */
export function describeSubgraph(
  id: string,
  subgraphs: Readonly<Record<string, Subgraph>>,
  catalog: Catalog,
): NodeDescription {
  const def = subgraphs[id]!;
  const ports = subgraphPorts(subgraphs, id, portsFor(catalog, subgraphs)) ?? { inputs: {}, outputs: {} };
  const properties: Record<string, unknown> = {};
  for (const [name, exposed] of Object.entries(def.params ?? {})) {
    const inner = def.nodes[exposed.node];
    const schema = inner ? paramSchema(inner.type, exposed.param, subgraphs, catalog) : undefined;
    if (!schema) continue;
    // The inner node's own value is the instance's default.
    const value = inner?.params?.[exposed.param];
    properties[name] = {
      ...schema,
      ...(value !== undefined ? { default: value } : {}),
      ...(exposed.title ? { title: exposed.title } : {}),
    };
  }
  const nodeCount = Object.keys(def.nodes).length;
  return {
    type: `subgraph/${id}`,
    version: 1,
    title: def.name,
    category: SUBGRAPH_CATEGORY,
    description: def.description ?? `A subgraph of ${nodeCount} node${nodeCount === 1 ? '' : 's'}.`,
    params: { type: 'object', properties },
    inputs: Object.fromEntries(
      Object.entries(ports.inputs).map(([name, p]) => [
        name,
        { type: p.type, title: def.inputs?.[name]?.title ?? name, optional: p.optional === true },
      ]),
    ),
    outputs: Object.fromEntries(
      Object.entries(ports.outputs).map(([name, p]) => [
        name,
        { type: p.type, title: def.outputs?.[name]?.title ?? name },
      ]),
    ),
    package: def.blueprint?.package ?? 'this workflow',
  };
}

/** The JSON Schema of a param of a node type (through nested subgraphs' exposed params). */
function paramSchema(
  type: string,
  param: string,
  subgraphs: Readonly<Record<string, Subgraph>>,
  catalog: Catalog,
  depth = 0,
): Record<string, unknown> | undefined {
  const nested = subgraphIdOf(type);
  if (nested !== undefined) {
    const def = subgraphs[nested];
    const exposed = def?.params?.[param];
    const inner = exposed ? def?.nodes[exposed.node] : undefined;
    return inner && depth < 16 ? paramSchema(inner.type, exposed!.param, subgraphs, catalog, depth + 1) : undefined;
  }
  const d = catalog.nodes.find((n) => n.type === type);
  return (d?.params as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties?.[param];
}

/** Registers the instance classes of the workflow's subgraphs. */
export function registerSubgraphTypes(
  subgraphs: Readonly<Record<string, Subgraph>>,
  catalog: Catalog,
  hooks: NodeHooks,
): NodeDescription[] {
  const descriptions = Object.keys(subgraphs).map((id) => describeSubgraph(id, subgraphs, catalog));
  for (const d of descriptions) registerDescription(d, catalog, hooks);
  return descriptions;
}

/** Port layouts of instances (for the conversion), like the catalogue's. */
export function subgraphLayout(
  type: string,
  subgraphs: Readonly<Record<string, Subgraph>>,
  catalog: Catalog,
): PortLayout | undefined {
  const id = subgraphIdOf(type);
  if (id === undefined || !subgraphs[id]) return undefined;
  const d = describeSubgraph(id, subgraphs, catalog);
  return {
    title: d.title,
    inputs: Object.entries(d.inputs).map(([name, p]) => ({ name, type: inputSlotType(p.type, catalog.portTypes) })),
    outputs: Object.entries(d.outputs).map(([name, p]) => ({ name, type: p.type })),
  };
}

/** Layouts of the input and output nodes of open subgraph `def`: its ports, then the open slot. */
export function ioLayouts(def: Subgraph, ports: TypePorts): Record<string, PortLayout> {
  return {
    [SUBGRAPH_INPUTS_TYPE]: {
      title: 'Subgraph inputs',
      inputs: [],
      outputs: [
        ...Object.entries(def.inputs ?? {}).map(([name, p]) => ({ name, type: p.type })),
        { name: NEW_PORT, type: '*' },
      ],
    },
    [SUBGRAPH_OUTPUTS_TYPE]: {
      title: 'Subgraph outputs',
      inputs: [
        ...Object.entries(ports.outputs).map(([name, p]) => ({ name, type: p.type === '*' ? '*' : p.type })),
        { name: NEW_PORT, type: '*' },
      ],
      outputs: [],
    },
  };
}

/** The classes of the input and output nodes: ports come from the workflow, they have no params. */
export function registerIoTypes(): void {
  for (const [type, title] of [
    [SUBGRAPH_INPUTS_TYPE, 'Subgraph inputs'],
    [SUBGRAPH_OUTPUTS_TYPE, 'Subgraph outputs'],
  ] as const) {
    class IoNode extends LGraphNode {
      static override title = title;
      static color = '#2b4a5e';
      static bgcolor = '#1b252d';
      constructor() {
        super(title);
        this.properties = { kinegraph: { version: 1, params: {}, defaultTitle: title } };
        this.serialize_widgets = false;
        this.removable = false;
        this.clonable = false;
      }

      override onDrawForeground(ctx: CanvasRenderingContext2D): void {
        ctx.font = '11px Inter, system-ui, sans-serif';
        ctx.fillStyle = '#8a93a3';
        ctx.fillText(
          type === SUBGRAPH_INPUTS_TYPE ? 'Drag from + to add an input' : 'Drag onto + to add an output',
          8,
          this.size[1]! + 16,
        );
      }
    }
    LiteGraph.registerNodeType(type, IoNode as unknown as typeof LGraphNode);
  }
}

/** A blueprint as a node description (for the search and the released-link filter). */
export function describeBlueprint(blueprint: BlueprintDescription, catalog: Catalog): NodeDescription {
  const d = describeSubgraph('blueprint', { blueprint: blueprint.subgraph }, catalog);
  return {
    ...d,
    type: blueprint.type,
    version: blueprint.version,
    title: blueprint.title,
    category: blueprint.category,
    description: blueprint.description,
    package: blueprint.package,
    ...(blueprint.packageVersion ? { packageVersion: blueprint.packageVersion } : {}),
  };
}
