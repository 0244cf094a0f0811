import { Value } from '@sinclair/typebox/value';
import type { AnyNodeDefinition } from '../sdk/node.js';
import { isValidNodeType } from '../sdk/node.js';
import type { KinegraphPlugin, WorkflowTextReader } from '../sdk/plugin.js';
import type { PortTypeDefinition } from '../sdk/port-types.js';
import { BUILTIN_PORT_TYPES } from '../sdk/port-types.js';
import { listOf } from '../util/did-you-mean.js';
import { KinegraphError } from '../util/errors.js';
import { type Blueprint, BlueprintSchema, SUBGRAPH_TYPE_PREFIX } from '../workflow/schema.js';

/** Where a plugin came from: what `kinegraph plugins` and "missing node" hints show. */
export interface PluginSource {
  /** npm package name, or the plugin's name for plugins registered in code. */
  readonly package: string;
  readonly version?: string;
  /** File or folder it was loaded from. */
  readonly path?: string;
}

/** A node type as registered: its definition and who provided it. */
export interface RegisteredNode {
  readonly definition: AnyNodeDefinition;
  readonly plugin: string;
  readonly source: PluginSource;
}

/** A subgraph blueprint as registered: the blueprint and who shipped it. */
export interface RegisteredBlueprint {
  readonly blueprint: Blueprint;
  readonly plugin: string;
  readonly source: PluginSource;
}

interface RegisteredPortType {
  readonly definition: PortTypeDefinition;
  readonly plugin: string;
}

/**
 * Every node type and port type the runtime knows. Plugins register into it; validation and the scheduler
 * read from it. Registering is all-or-nothing per plugin: a plugin with one bad node adds nothing.
 */
export class NodeRegistry {
  readonly #nodes = new Map<string, RegisteredNode>();
  readonly #portTypes = new Map<string, RegisteredPortType>();
  readonly #plugins = new Map<string, PluginSource>();
  readonly #blueprints = new Map<string, RegisteredBlueprint>();
  readonly #workflowReaders: WorkflowTextReader[] = [];

  constructor() {
    for (const portType of BUILTIN_PORT_TYPES)
      this.#portTypes.set(portType.name, { definition: portType, plugin: '@kinegraph/core' });
  }

  /**
   * Adds a plugin's port types and nodes. Throws `PLUGIN_DUPLICATE`, `NODE_TYPE_DUPLICATE` (naming both
   * plugins), `PORT_TYPE_DUPLICATE`, `NODE_TYPE_INVALID` or `PORT_TYPE_UNKNOWN`, and then registers nothing.
   */
  register(plugin: KinegraphPlugin, source: PluginSource = { package: plugin.name }): void {
    if (typeof plugin?.name !== 'string' || plugin.name === '') {
      throw new KinegraphError('PLUGIN_INVALID', `A plugin from ${source.path ?? source.package} has no name.`, {
        hint: 'Return an object with a `name` (usually the npm package name) from the plugin factory.',
      });
    }
    if (this.#plugins.has(plugin.name)) {
      throw new KinegraphError(
        'PLUGIN_DUPLICATE',
        `Plugin "${plugin.name}" is already registered (from ${this.#plugins.get(plugin.name)?.path ?? 'code'}).`,
        {
          hint: 'Install each plugin once; remove one copy.',
        },
      );
    }
    const newPortTypes = new Map<string, PortTypeDefinition>();
    for (const portType of plugin.portTypes ?? []) {
      const existing = this.#portTypes.get(portType.name);
      if (existing || newPortTypes.has(portType.name)) {
        throw new KinegraphError(
          'PORT_TYPE_DUPLICATE',
          `Port type "${portType.name}" from plugin "${plugin.name}" is already registered by "${existing?.plugin ?? plugin.name}".`,
          {
            hint: 'Namespace plugin port types (`acme/lut`) so they cannot clash.',
          },
        );
      }
      newPortTypes.set(portType.name, portType);
    }
    const newNodes = new Map<string, AnyNodeDefinition>();
    for (const node of plugin.nodes ?? []) {
      if (!node) continue;
      if (node.type?.startsWith(SUBGRAPH_TYPE_PREFIX)) {
        throw new KinegraphError(
          'NODE_TYPE_INVALID',
          `Node type "${node.type}" in plugin "${plugin.name}" uses the namespace "subgraph", which is reserved for the subgraphs of workflows.`,
          { hint: 'Use the plugin\u2019s own namespace, e.g. `acme/color-grade`.' },
        );
      }
      if (!isValidNodeType(node.type)) {
        throw new KinegraphError(
          'NODE_TYPE_INVALID',
          `Node type "${node.type}" in plugin "${plugin.name}" is not of the form namespace/kebab-name.`,
          {
            hint: 'Use lowercase `namespace/name`, e.g. `acme/color-grade`.',
          },
        );
      }
      if (!Number.isInteger(node.version) || node.version < 1) {
        throw new KinegraphError(
          'NODE_VERSION_INVALID',
          `Node type "${node.type}" in plugin "${plugin.name}" has version ${String(node.version)}.`,
          {
            hint: 'Versions are integers starting at 1.',
          },
        );
      }
      const existing = this.#nodes.get(node.type);
      if (existing || newNodes.has(node.type)) {
        const other = existing ? existing.plugin : plugin.name;
        throw new KinegraphError(
          'NODE_TYPE_DUPLICATE',
          `Node type "${node.type}" is registered by both "${other}" and "${plugin.name}".`,
          {
            hint: `Uninstall one of the two plugins, or rename the node type in "${plugin.name}".`,
          },
        );
      }
      for (const [portName, port] of [...Object.entries(node.inputs), ...Object.entries(node.outputs)]) {
        if (!this.#portTypes.has(port.type) && !newPortTypes.has(port.type)) {
          const known = [...this.#portTypes.keys(), ...newPortTypes.keys()];
          throw new KinegraphError(
            'PORT_TYPE_UNKNOWN',
            `Port "${portName}" of "${node.type}" has unknown type "${port.type}".`,
            {
              hint: `Register the port type in the plugin's portTypes, or use one of: ${listOf(known)}.`,
            },
          );
        }
      }
      newNodes.set(node.type, node);
    }
    const newBlueprints = new Map<string, Blueprint>();
    for (const [i, document] of (plugin.blueprints ?? []).entries()) {
      if (!Value.Check(BlueprintSchema, document)) {
        const first = Value.Errors(BlueprintSchema, document).First();
        throw new KinegraphError(
          'BLUEPRINT_INVALID',
          `Blueprint ${i + 1} of plugin "${plugin.name}"${typeof (document as { type?: unknown }).type === 'string' ? ` ("${(document as { type: string }).type}")` : ''} is not a kinegraph/blueprint@1 document: ${first ? `${first.path || '/'} ${first.message}` : 'invalid'}.`,
          { hint: 'See packages/core/schema/blueprint.schema.json; `kinegraph validate` checks the subgraph inside.' },
        );
      }
      const blueprint = document as Blueprint;
      const clash = this.#nodes.get(blueprint.type) ?? newNodes.get(blueprint.type);
      const other = this.#blueprints.get(blueprint.type);
      if (clash || other || newBlueprints.has(blueprint.type)) {
        throw new KinegraphError(
          'BLUEPRINT_DUPLICATE',
          `Blueprint "${blueprint.type}" of plugin "${plugin.name}" clashes with ${clash ? 'a node type' : 'a blueprint'} of that name${other ? ` from "${other.plugin}"` : ''}.`,
          { hint: `Rename the blueprint's type in "${plugin.name}".` },
        );
      }
      newBlueprints.set(blueprint.type, blueprint);
    }
    for (const [name, definition] of newPortTypes) this.#portTypes.set(name, { definition, plugin: plugin.name });
    for (const [type, blueprint] of newBlueprints)
      this.#blueprints.set(type, { blueprint, plugin: plugin.name, source });
    for (const [type, definition] of newNodes) this.#nodes.set(type, { definition, plugin: plugin.name, source });
    this.#plugins.set(plugin.name, source);
    for (const reader of plugin.workflowReaders ?? [])
      if (typeof reader?.read === 'function') this.#workflowReaders.push(reader);
  }

  /** Every plugin's embedded-workflow readers, in registration order (the built-in library first). */
  workflowReaders(): readonly WorkflowTextReader[] {
    return this.#workflowReaders;
  }

  get(type: string): RegisteredNode | undefined {
    return this.#nodes.get(type);
  }

  /** All node types, sorted. */
  types(): string[] {
    return [...this.#nodes.keys()].sort();
  }

  nodes(): RegisteredNode[] {
    return this.types().map((t) => this.#nodes.get(t)!);
  }

  /** A subgraph blueprint by type. */
  blueprint(type: string): RegisteredBlueprint | undefined {
    return this.#blueprints.get(type);
  }

  /** All blueprints, sorted by type. */
  blueprints(): RegisteredBlueprint[] {
    return [...this.#blueprints.keys()].sort().map((t) => this.#blueprints.get(t)!);
  }

  portType(name: string): PortTypeDefinition | undefined {
    return this.#portTypes.get(name)?.definition;
  }

  portTypes(): PortTypeDefinition[] {
    return [...this.#portTypes.values()].map((p) => p.definition);
  }

  plugins(): Array<{ name: string; source: PluginSource }> {
    return [...this.#plugins.entries()].map(([name, source]) => ({ name, source }));
  }

  /** Whether an output of type `from` may feed an input of type `to`. */
  accepts(to: string, from: string): boolean {
    if (to === from) return true;
    return this.#portTypes.get(to)?.definition.accepts?.includes(from) ?? false;
  }
}
