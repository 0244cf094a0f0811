import type { ErrorObject } from 'ajv';
import type { NodeRegistry, RegisteredNode } from '../registry/registry.js';
import { didYouMean, listOf } from '../util/did-you-mean.js';
import { pointer, type ValidationIssue } from '../workflow/issue.js';
import {
  type Edge,
  NODE_ID_PATTERN,
  WORKFLOW_FORMAT,
  type Workflow,
  WorkflowNodeSchema,
  WorkflowSchema,
} from '../workflow/schema.js';
import { validatorFor } from './ajv.js';
import { findCycles } from './cycles.js';
import { migrateNode } from './migrate.js';
import { validateParams } from './params.js';

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
}

export type ValidationResult =
  | { ok: true; prepared: PreparedWorkflow; issues: [] }
  | { ok: false; issues: ValidationIssue[] };

/**
 * Checks a workflow document against the registry before anything runs, and lists every problem at once.
 * Older node versions are migrated first and the result is what gets validated. The input is not mutated.
 */
export function validateWorkflow(document: unknown, registry: NodeRegistry): ValidationResult {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return {
      ok: false,
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
  const validNodeIds = new Set<string>();
  const nodesValue = doc.nodes;
  const nodeEntries =
    typeof nodesValue === 'object' && nodesValue !== null && !Array.isArray(nodesValue)
      ? Object.entries(nodesValue as Record<string, unknown>)
      : [];

  // Document level: everything but the inside of each node, which is checked node by node below so one
  // broken node does not hide the problems of the others.
  const validateDoc = validatorFor(WorkflowSchema);
  if (!validateDoc(structuralView(doc))) {
    for (const error of validateDoc.errors ?? []) {
      if (error.instancePath.startsWith('/nodes/')) continue;
      issues.push(documentIssue(error));
    }
  }
  const validateNode = validatorFor(WorkflowNodeSchema);
  const idPattern = new RegExp(NODE_ID_PATTERN);
  for (const [id, node] of nodeEntries) {
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
    validNodeIds.add(id);
  }

  const provenance = (
    doc.metadata as { nodeTypes?: Record<string, { package?: string; version?: string }> } | undefined
  )?.nodeTypes;
  const prepared = new Map<string, PreparedNode>();
  const migrated: Array<{ nodeId: string; from: number; to: number }> = [];
  const finalNodes: Record<string, Workflow['nodes'][string]> = {};

  for (const id of validNodeIds) {
    const raw = (nodesValue as Record<string, Workflow['nodes'][string]>)[id]!;
    const registered = registry.get(raw.type);
    if (!registered) {
      issues.push(unknownTypeIssue(id, raw.type, registry, provenance?.[raw.type]));
      continue;
    }
    const definition = registered.definition;
    if (raw.version > definition.version) {
      issues.push({
        code: 'NODE_VERSION_NEWER',
        nodeId: id,
        pointer: pointer('nodes', id, 'version'),
        message: `Node "${id}" was saved with ${raw.type} version ${raw.version}, but the installed ${registered.source.package}${registered.source.version ? `@${registered.source.version}` : ''} has version ${definition.version}.`,
        hint: `Update ${registered.source.package} to a release that provides ${raw.type} v${raw.version}.`,
      });
      continue;
    }
    const migration = migrateNode(id, raw, definition);
    if ('issue' in migration) {
      issues.push(migration.issue);
      continue;
    }
    if (migration.from !== migration.to) migrated.push({ nodeId: id, from: migration.from, to: migration.to });
    const params = structuredClone(migration.params);
    issues.push(...validateParams(id, definition.params, params));
    finalNodes[id] = { ...raw, version: definition.version, params, inputs: migration.inputs };
    prepared.set(id, { id, registered, params, inputs: migration.inputs });
  }

  // Up to five "node.output" suggestions per port type, computed once per type: a workflow with thousands
  // of unconnected inputs stays linear.
  const offerings = new Map<string, string[]>();
  const offeringsOf = (type: string): string[] => {
    let found = offerings.get(type);
    if (found) return found;
    found = [];
    search: for (const other of prepared.values()) {
      for (const [name, output] of Object.entries(other.registered.definition.outputs)) {
        if (!registry.accepts(type, output.type)) continue;
        found.push(`${other.id}.${name}`);
        if (found.length === 5) break search;
      }
    }
    offerings.set(type, found);
    return found;
  };

  // Edges: checked once both ends are known so mismatches name both ports.
  for (const node of prepared.values()) {
    const definition = node.registered.definition;
    const portNames = Object.keys(definition.inputs);
    for (const [port, edge] of Object.entries(node.inputs)) {
      const at = pointer('nodes', node.id, 'inputs', port);
      const spec = definition.inputs[port];
      if (!spec) {
        const close = didYouMean(port, portNames);
        issues.push({
          code: 'INPUT_UNKNOWN',
          nodeId: node.id,
          pointer: at,
          message: `${definition.type} has no input port "${port}".`,
          hint: `${close.length ? `Did you mean "${close[0]}"? ` : ''}Input ports: ${portNames.length ? listOf(portNames) : '(none)'}.`,
        });
        continue;
      }
      if (!(edge.node in (nodesValue as object))) {
        const ids = nodeEntries.map(([i]) => i);
        const close = didYouMean(edge.node, ids);
        issues.push({
          code: 'INPUT_NODE_MISSING',
          nodeId: node.id,
          pointer: `${at}/node`,
          message: `Input "${port}" reads from node "${truncate(edge.node)}", which is not in the workflow.`,
          hint: `${close.length ? `Did you mean "${close[0]}"? ` : ''}Nodes: ${listOf(ids)}.`,
        });
        continue;
      }
      const source = prepared.get(edge.node);
      if (!source) continue; // The source node has its own issue already.
      const outputSpec = source.registered.definition.outputs[edge.output];
      const outputs = Object.keys(source.registered.definition.outputs);
      if (!outputSpec) {
        issues.push({
          code: 'OUTPUT_UNKNOWN',
          nodeId: node.id,
          pointer: `${at}/output`,
          message: `Input "${port}" reads output "${truncate(edge.output)}" of "${edge.node}" (${source.registered.definition.type}), which has no such output.`,
          hint: `Outputs of "${edge.node}": ${outputs.length ? listOf(outputs) : '(none)'}.`,
        });
        continue;
      }
      if (!registry.accepts(spec.type, outputSpec.type)) {
        const compatible = outputs.filter((o) =>
          registry.accepts(spec.type, source.registered.definition.outputs[o]!.type),
        );
        issues.push({
          code: 'PORT_TYPE_MISMATCH',
          nodeId: node.id,
          pointer: at,
          message: `Input "${port}" takes ${spec.type}, but "${edge.node}".${edge.output} gives ${outputSpec.type}.`,
          hint: compatible.length
            ? `Connect one of "${edge.node}"'s ${spec.type} outputs: ${listOf(compatible)}.`
            : `Connect an output of type ${spec.type}; "${edge.node}" has none.`,
        });
      }
    }
    for (const [port, spec] of Object.entries(definition.inputs)) {
      if (spec.optional || port in node.inputs) continue;
      const offering = offeringsOf(spec.type);
      issues.push({
        code: 'INPUT_MISSING',
        nodeId: node.id,
        pointer: pointer('nodes', node.id, 'inputs', port),
        message: `Required input "${port}" (${spec.type}) of ${definition.type} is not connected.`,
        hint: offering.length
          ? `Connect an output of type ${spec.type}, e.g. ${listOf(offering)}.`
          : `Add a node with a ${spec.type} output and connect it.`,
      });
    }
  }

  const edges = new Map<string, string[]>();
  for (const id of validNodeIds) {
    const inputs = (prepared.get(id)?.inputs ??
      (nodesValue as Record<string, Workflow['nodes'][string]>)[id]!.inputs ??
      {}) as Record<string, Edge>;
    edges.set(
      id,
      Object.values(inputs)
        .map((e) => e.node)
        .filter((n) => validNodeIds.has(n)),
    );
  }
  const { cycles, order } = findCycles(edges);
  for (const cycle of cycles) {
    issues.push({
      code: 'CYCLE',
      nodeId: cycle[0],
      pointer: pointer('nodes', cycle[0]!),
      message: `The workflow has a cycle: ${[...cycle, cycle[0]].join(' \u2192 ')}.`,
      hint: 'A node cannot depend on its own output; remove one of the edges on this cycle.',
    });
  }

  if (issues.length) return { ok: false, issues };
  const workflow = { ...(doc as Workflow), nodes: finalNodes };
  return { ok: true, prepared: { workflow, nodes: prepared, order, migrated }, issues: [] };
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
  const extra =
    error.keyword === 'additionalProperties'
      ? ` "${truncate(String((error.params as { additionalProperty: string }).additionalProperty))}"`
      : '';
  return {
    code: 'WORKFLOW_SCHEMA',
    pointer: error.instancePath,
    message: `${error.instancePath || 'The workflow'} ${error.message ?? 'is invalid'}${extra}.`,
    hint: 'See packages/core/schema/workflow.schema.json for the format; top-level keys are format, name, description, nodes, groups, metadata.',
  };
}

function nodeStructureIssue(id: string, error: ErrorObject): ValidationIssue {
  const at = pointer('nodes', id) + error.instancePath;
  const extra =
    error.keyword === 'additionalProperties'
      ? ` "${truncate(String((error.params as { additionalProperty: string }).additionalProperty))}"`
      : '';
  return {
    code: 'WORKFLOW_SCHEMA',
    nodeId: id,
    pointer: at,
    message: `Node "${id}"${error.instancePath ? ` ${error.instancePath}` : ''} ${error.message ?? 'is invalid'}${extra}.`,
    hint: 'A node is {"type": "namespace/name", "version": 1, "params": {...}, "inputs": {"port": {"node": "id", "output": "port"}}, "ui": {...}}.',
  };
}

// Keeps messages readable when a value is a 10 MB string.
function truncate(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}\u2026 (${text.length} characters)` : text;
}
