import type { NodeRegistry, RegisteredNode } from '../registry/registry.js';
import { didYouMean, listOf } from '../util/did-you-mean.js';
import { pointer, type ValidationIssue } from '../workflow/issue.js';
import type { Edge, WorkflowNode } from '../workflow/schema.js';
import { migrateNode } from './migrate.js';
import type { Provenance } from './shape.js';
import { truncate } from './truncate.js';

/** A saved node matched to its installed type and brought up to that type's version. */
export interface ResolvedNode {
  readonly registered: RegisteredNode;
  /** Params after migration (a copy; defaults are filled in by the params phase). */
  readonly params: Record<string, unknown>;
  readonly inputs: Record<string, Edge>;
  /** The version it was saved with, and the installed one. */
  readonly from: number;
  readonly to: number;
}

/**
 * Phase 2, node types and migration: finds a saved node's type among the installed ones (naming the
 * package that provides it when it is missing), refuses a version newer than the installed one, and runs
 * the type's `migrate` steps from the saved version up.
 */
export function resolveNode(
  id: string,
  saved: WorkflowNode,
  registry: NodeRegistry,
  provenance: Provenance | undefined,
): ResolvedNode | { issue: ValidationIssue } {
  const registered = registry.get(saved.type);
  if (!registered) return { issue: unknownTypeIssue(id, saved.type, registry, provenance?.[saved.type]) };
  const definition = registered.definition;
  if (saved.version > definition.version) {
    const installed = `${registered.source.package}${registered.source.version ? `@${registered.source.version}` : ''}`;
    return {
      issue: {
        code: 'NODE_VERSION_NEWER',
        nodeId: id,
        pointer: pointer('nodes', id, 'version'),
        message: `Node "${id}" was saved with ${saved.type} version ${saved.version}, but the installed ${installed} has version ${definition.version}.`,
        hint: `Update ${registered.source.package} to a release that provides ${saved.type} v${saved.version}.`,
      },
    };
  }
  const migration = migrateNode(id, saved, definition);
  if ('issue' in migration) return migration;
  return {
    registered,
    params: structuredClone(migration.params),
    inputs: migration.inputs,
    from: migration.from,
    to: migration.to,
  };
}

function unknownTypeIssue(
  id: string,
  type: string,
  registry: NodeRegistry,
  provided?: { package?: string; version?: string },
): ValidationIssue {
  const close = didYouMean(type, registry.types());
  const parts: string[] = [];
  if (provided?.package)
    parts.push(
      `It is provided by ${provided.package}${provided.version ? `@${provided.version}` : ''}, which is not installed: npm install ${provided.package}.`,
    );
  if (close.length) parts.push(`Did you mean ${listOf(close.map((c) => `"${c}"`))}?`);
  if (!parts.length)
    parts.push('Run `kinegraph nodes` to list the installed node types, or install the plugin that provides it.');
  return {
    code: 'NODE_TYPE_UNKNOWN',
    nodeId: id,
    pointer: pointer('nodes', id, 'type'),
    message: `Unknown node type "${truncate(type)}".`,
    hint: parts.join(' '),
  };
}
