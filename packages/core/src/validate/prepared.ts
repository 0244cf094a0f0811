import type { RegisteredNode } from '../registry/registry.js';
import type { ValidationIssue } from '../workflow/issue.js';
import type { SkipReason } from '../workflow/modes.js';
import type { Edge, Workflow } from '../workflow/schema.js';

/** A node ready to run: its definition, complete params (defaults filled) and edges. */
export interface PreparedNode {
  readonly id: string;
  readonly registered: RegisteredNode;
  readonly params: Record<string, unknown>;
  readonly inputs: Readonly<Record<string, Edge>>;
}

/** A workflow that passed validation: migrated to installed node versions, params complete, in run order. */
export interface PreparedWorkflow {
  /** The document as it will run (migrated, defaults filled): what a saved output should embed. */
  readonly workflow: Workflow;
  readonly nodes: ReadonlyMap<string, PreparedNode>;
  /** Node ids in a dependency order (every node after the nodes it reads from). */
  readonly order: readonly string[];
  /** Nodes that were migrated, from → to version. */
  readonly migrated: ReadonlyArray<{ nodeId: string; from: number; to: number }>;
  /** Nodes that do not run because of their mode (bypassed, muted) or a muted node they need. */
  readonly skipped?: ReadonlyMap<string, SkipReason>;
  /** For a partial run: the nodes it was asked to compute. */
  readonly targets?: readonly string[];
}

/** What validation says: a workflow ready to run, or every problem found. */
export type ValidationResult =
  | { ok: true; prepared: PreparedWorkflow; issues: [] }
  | { ok: false; issues: ValidationIssue[] };
