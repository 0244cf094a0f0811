import type { PortTypeDefinition } from '../sdk/port-types.js';
import type { Subgraph } from '../workflow/schema.js';
import type { NodeRegistry } from './registry.js';

/** A node type as clients see it (`kinegraph nodes --json`, the editor's palette): data only, no code. */
export interface NodeDescription {
  type: string;
  version: number;
  title: string;
  category: string;
  description: string;
  /** JSON Schema of the params (from the TypeBox source). */
  params: Record<string, unknown>;
  inputs: Record<string, { type: string; title: string; optional: boolean; description?: string }>;
  outputs: Record<string, { type: string; title: string; description?: string }>;
  package: string;
  packageVersion?: string;
}

/** A subgraph blueprint as clients see it: the palette lists it, adding one copies `subgraph`. */
export interface BlueprintDescription {
  type: string;
  version: number;
  title: string;
  category: string;
  description: string;
  subgraph: Subgraph;
  package: string;
  packageVersion?: string;
}

/** Every node type, port type and blueprint the registry holds, as serialisable descriptions. */
export function describeNodes(registry: NodeRegistry): {
  nodes: NodeDescription[];
  portTypes: PortTypeDefinition[];
  blueprints: BlueprintDescription[];
} {
  const blueprints = registry.blueprints().map(
    ({ blueprint, source }): BlueprintDescription => ({
      type: blueprint.type,
      version: blueprint.version,
      title: blueprint.subgraph.name,
      category: blueprint.category ?? 'blueprints',
      description:
        blueprint.subgraph.description ?? `A subgraph of ${Object.keys(blueprint.subgraph.nodes).length} nodes.`,
      subgraph: structuredClone(blueprint.subgraph),
      package: source.package,
      ...(source.version ? { packageVersion: source.version } : {}),
    }),
  );
  const nodes = registry.nodes().map(
    ({ definition, source }): NodeDescription => ({
      type: definition.type,
      version: definition.version,
      title: definition.title,
      category: definition.category,
      description: definition.description,
      params: JSON.parse(JSON.stringify(definition.params)) as Record<string, unknown>,
      inputs: Object.fromEntries(
        Object.entries(definition.inputs).map(([name, p]) => [
          name,
          {
            type: p.type,
            title: p.title ?? name,
            optional: p.optional === true,
            ...(p.description ? { description: p.description } : {}),
          },
        ]),
      ),
      outputs: Object.fromEntries(
        Object.entries(definition.outputs).map(([name, p]) => [
          name,
          { type: p.type, title: p.title ?? name, ...(p.description ? { description: p.description } : {}) },
        ]),
      ),
      package: source.package,
      ...(source.version ? { packageVersion: source.version } : {}),
    }),
  );
  return { nodes, portTypes: registry.portTypes(), blueprints };
}

/**
 * Records in a workflow's metadata which package (and version) provides each node type it uses, so that a
 * machine without that plugin can say which package to install.
 */
export function withProvenance<
  W extends { nodes: Record<string, { type: string }>; metadata?: Record<string, unknown> },
>(
  workflow: W,
  registry: NodeRegistry,
): W & { metadata: Record<string, unknown> & { nodeTypes: Record<string, { package: string; version?: string }> } } {
  const nodeTypes: Record<string, { package: string; version?: string }> = {
    ...((workflow.metadata?.nodeTypes as Record<string, { package: string; version?: string }>) ?? {}),
  };
  const subgraphs = (workflow as { subgraphs?: Record<string, { nodes?: Record<string, { type: string }> }> })
    .subgraphs;
  const every = [
    ...Object.values(workflow.nodes),
    ...Object.values(subgraphs ?? {}).flatMap((s) => Object.values(s?.nodes ?? {})),
  ];
  for (const node of every) {
    const registered = registry.get(node.type);
    if (registered)
      nodeTypes[node.type] = {
        package: registered.source.package,
        ...(registered.source.version ? { version: registered.source.version } : {}),
      };
  }
  return { ...workflow, metadata: { ...(workflow.metadata ?? {}), nodeTypes } };
}
