import type { AnyNodeDefinition } from '../sdk/node.js';
import { pointer, type ValidationIssue } from '../workflow/issue.js';
import type { Edge, WorkflowNode } from '../workflow/schema.js';

type MigrationResult =
  | { from: number; to: number; params: Record<string, unknown>; inputs: Record<string, Edge> }
  | { issue: ValidationIssue };

/** Runs a node's `migrate` chain from its saved version up to the installed one. */
export function migrateNode(id: string, node: WorkflowNode, definition: AnyNodeDefinition): MigrationResult {
  let state = {
    params: structuredClone(node.params ?? {}) as Record<string, unknown>,
    inputs: structuredClone(node.inputs ?? {}) as Record<string, Edge>,
  };
  for (let version = node.version; version < definition.version; version++) {
    const step = definition.migrate?.[version];
    if (!step) {
      return {
        issue: {
          code: 'MIGRATION_MISSING',
          nodeId: id,
          pointer: pointer('nodes', id, 'version'),
          message: `${definition.type} cannot migrate from version ${version} to ${version + 1}: the node has no migration for it.`,
          hint: `Recreate the node at version ${definition.version}, or ask its plugin's authors for a migration.`,
        },
      };
    }
    try {
      state = step(state);
    } catch (error) {
      return {
        issue: {
          code: 'MIGRATION_FAILED',
          nodeId: id,
          pointer: pointer('nodes', id),
          message: `Migrating ${definition.type} from version ${version} to ${version + 1} failed: ${error instanceof Error ? error.message : String(error)}.`,
          hint: `Recreate the node at version ${definition.version}.`,
        },
      };
    }
  }
  return { from: node.version, to: definition.version, ...state };
}
