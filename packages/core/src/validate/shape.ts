import type { ErrorObject } from 'ajv';
import { pointer, type ValidationIssue } from '../workflow/issue.js';
import {
  NODE_ID_PATTERN,
  WORKFLOW_FORMAT,
  type WorkflowNode,
  WorkflowNodeSchema,
  WorkflowSchema,
} from '../workflow/schema.js';
import { validatorFor } from './ajv.js';
import { truncate } from './truncate.js';

/** Which package and version provided each node type when the workflow was saved (`metadata.nodeTypes`). */
export type Provenance = Readonly<Record<string, { package?: string; version?: string }>>;

/** A document whose shape was checked: its well-formed nodes, and the problems found. */
export interface CheckedShape {
  readonly document: Record<string, unknown>;
  /** Every key of `nodes`, well-formed or not: an edge to a broken node does not point at a missing one. */
  readonly nodeIds: readonly string[];
  /** Nodes with a valid id and a valid structure, in document order. */
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  readonly provenance: Provenance | undefined;
  readonly issues: readonly ValidationIssue[];
}

/**
 * Phase 1, shape and schema: the document against the workflow format, then each node's id and structure
 * one by one, so one broken node does not hide the problems of the others. Returns only issues when the
 * document is not even an object.
 */
export function checkShape(document: unknown): CheckedShape | { readonly issues: ValidationIssue[] } {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return {
      issues: [
        {
          code: 'WORKFLOW_NOT_OBJECT',
          pointer: '',
          message: 'A workflow must be a JSON object.',
          hint: `Start from {"format": "${WORKFLOW_FORMAT}", "nodes": {}}.`,
        },
      ],
    };
  }
  const doc = document as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  const nodesValue = doc.nodes;
  const entries =
    typeof nodesValue === 'object' && nodesValue !== null && !Array.isArray(nodesValue)
      ? Object.entries(nodesValue as Record<string, unknown>)
      : [];

  // Document level: everything but the inside of each node, which is checked node by node below.
  const validateDoc = validatorFor(WorkflowSchema);
  if (!validateDoc(structuralView(doc))) {
    for (const error of validateDoc.errors ?? []) {
      if (error.instancePath.startsWith('/nodes/')) continue;
      issues.push(documentIssue(error));
    }
  }
  const validateNode = validatorFor(WorkflowNodeSchema);
  const idPattern = new RegExp(NODE_ID_PATTERN);
  const nodes = new Map<string, WorkflowNode>();
  for (const [id, node] of entries) {
    if (!idPattern.test(id)) {
      issues.push({
        code: 'NODE_ID_INVALID',
        nodeId: id,
        pointer: pointer('nodes', id),
        message: `Node id "${truncate(id)}" is not valid.`,
        hint: 'Ids start with a letter or _, then letters, digits, _ or -, at most 64 characters (e.g. "prompt", "sampler_2").',
      });
      continue;
    }
    if (!validateNode(node)) {
      for (const error of validateNode.errors ?? []) issues.push(nodeStructureIssue(id, error));
      continue;
    }
    nodes.set(id, node as WorkflowNode);
  }
  const provenance = (doc.metadata as { nodeTypes?: Provenance } | undefined)?.nodeTypes;
  return { document: doc, nodeIds: entries.map(([id]) => id), nodes, provenance, issues };
}

// The document-level check sees every node as an empty object, so node-level errors are reported once,
// per node, with better messages.
function structuralView(doc: Record<string, unknown>): Record<string, unknown> {
  const nodes = doc.nodes;
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) return doc;
  const stub: Record<string, unknown> = {};
  const idPattern = new RegExp(NODE_ID_PATTERN);
  // Bad ids are reported per node (NODE_ID_INVALID), so they are left out here.
  for (const id of Object.keys(nodes)) if (idPattern.test(id)) stub[id] = { type: 'x', version: 1 };
  return { ...doc, nodes: stub };
}

function documentIssue(error: ErrorObject): ValidationIssue {
  if (
    error.instancePath === '/format' ||
    (error.keyword === 'required' && (error.params as { missingProperty?: string }).missingProperty === 'format')
  ) {
    return {
      code: 'FORMAT_UNSUPPORTED',
      pointer: '/format',
      message: 'This is not a kinegraph/workflow@1 document (missing or different "format").',
      hint: `Set "format": "${WORKFLOW_FORMAT}".`,
    };
  }
  if (error.keyword === 'propertyNames' || (error.keyword === 'pattern' && error.instancePath === '/nodes')) {
    return {
      code: 'NODE_ID_INVALID',
      pointer: '/nodes',
      message: 'A node id is not valid.',
      hint: 'Ids start with a letter or _, then letters, digits, _ or -.',
    };
  }
  const extra = unexpectedKey(error);
  return {
    code: 'WORKFLOW_SCHEMA',
    pointer: error.instancePath,
    message: `${error.instancePath || 'The workflow'} ${error.message ?? 'is invalid'}${extra}.`,
    hint: 'See packages/core/schema/workflow.schema.json for the format; top-level keys are format, name, description, nodes, groups, subgraphs, ui, metadata.',
  };
}

/** For an unexpected key, ` "<key>"` (truncated) to end the message with; otherwise ''. */
function unexpectedKey(error: ErrorObject): string {
  return error.keyword === 'additionalProperties'
    ? ` "${truncate(String((error.params as { additionalProperty: string }).additionalProperty))}"`
    : '';
}

function nodeStructureIssue(id: string, error: ErrorObject): ValidationIssue {
  const at = pointer('nodes', id) + error.instancePath;
  const extra = unexpectedKey(error);
  return {
    code: 'WORKFLOW_SCHEMA',
    nodeId: id,
    pointer: at,
    message: `Node "${id}"${error.instancePath ? ` ${error.instancePath}` : ''} ${error.message ?? 'is invalid'}${extra}.`,
    hint: 'A node is {"type": "namespace/name", "version": 1, "params": {...}, "inputs": {"port": {"node": "id", "output": "port"}}, "mode"?: "bypass" | "mute", "ui": {...}}.',
  };
}
