import type { NodeRegistry } from '../registry/registry.js';
import { didYouMean, listOf } from '../util/did-you-mean.js';
import { pointer, type ValidationIssue } from '../workflow/issue.js';
import type { PreparedNode } from './prepared.js';
import { truncate } from './truncate.js';

/**
 * Phase 4, edges and port types: every input port exists and reads an existing output of a node in the
 * workflow, of a type the port accepts, and every required input is connected. Checked once both ends of
 * every edge are known, so a mismatch names both ports.
 *
 * @param nodes The nodes that passed the earlier phases.
 * @param nodeIds Every node id in the document (an edge to a broken node is not an edge to a missing one).
 */
export function checkEdges(
  nodes: ReadonlyMap<string, PreparedNode>,
  nodeIds: readonly string[],
  registry: NodeRegistry,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const inDocument = new Set(nodeIds);
  const offeringsOf = outputOfferings(nodes, registry);
  for (const node of nodes.values()) {
    for (const [port, edge] of Object.entries(node.inputs)) {
      const issue = edgeIssue(node, port, edge, nodes, inDocument, nodeIds, registry);
      if (issue) issues.push(issue);
    }
    const definition = node.registered.definition;
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
  return issues;
}

/** The problem with one connected input, if any. */
function edgeIssue(
  node: PreparedNode,
  port: string,
  edge: { node: string; output: string },
  nodes: ReadonlyMap<string, PreparedNode>,
  inDocument: ReadonlySet<string>,
  nodeIds: readonly string[],
  registry: NodeRegistry,
): ValidationIssue | undefined {
  const definition = node.registered.definition;
  const at = pointer('nodes', node.id, 'inputs', port);
  const spec = definition.inputs[port];
  if (!spec) {
    const portNames = Object.keys(definition.inputs);
    const close = didYouMean(port, portNames);
    return {
      code: 'INPUT_UNKNOWN',
      nodeId: node.id,
      pointer: at,
      message: `${definition.type} has no input port "${port}".`,
      hint: `${close.length ? `Did you mean "${close[0]}"? ` : ''}Input ports: ${portNames.length ? listOf(portNames) : '(none)'}.`,
    };
  }
  if (!inDocument.has(edge.node)) {
    const close = didYouMean(edge.node, nodeIds);
    return {
      code: 'INPUT_NODE_MISSING',
      nodeId: node.id,
      pointer: `${at}/node`,
      message: `Input "${port}" reads from node "${truncate(edge.node)}", which is not in the workflow.`,
      hint: `${close.length ? `Did you mean "${close[0]}"? ` : ''}Nodes: ${listOf(nodeIds)}.`,
    };
  }
  const source = nodes.get(edge.node);
  if (!source) return undefined; // The source node has its own issue already.
  const sourceOutputs = source.registered.definition.outputs;
  const outputSpec = sourceOutputs[edge.output];
  const outputs = Object.keys(sourceOutputs);
  if (!outputSpec) {
    return {
      code: 'OUTPUT_UNKNOWN',
      nodeId: node.id,
      pointer: `${at}/output`,
      message: `Input "${port}" reads output "${truncate(edge.output)}" of "${edge.node}" (${source.registered.definition.type}), which has no such output.`,
      hint: `Outputs of "${edge.node}": ${outputs.length ? listOf(outputs) : '(none)'}.`,
    };
  }
  if (registry.accepts(spec.type, outputSpec.type)) return undefined;
  const compatible = outputs.filter((o) => registry.accepts(spec.type, sourceOutputs[o]!.type));
  return {
    code: 'PORT_TYPE_MISMATCH',
    nodeId: node.id,
    pointer: at,
    message: `Input "${port}" takes ${spec.type}, but "${edge.node}".${edge.output} gives ${outputSpec.type}.`,
    hint: compatible.length
      ? `Connect one of "${edge.node}"'s ${spec.type} outputs: ${listOf(compatible)}.`
      : `Connect an output of type ${spec.type}; "${edge.node}" has none.`,
  };
}

/**
 * Up to five "node.output" suggestions per port type, computed once per type: a workflow with thousands of
 * unconnected inputs stays linear.
 */
function outputOfferings(nodes: ReadonlyMap<string, PreparedNode>, registry: NodeRegistry): (type: string) => string[] {
  const offerings = new Map<string, string[]>();
  return (type) => {
    let found = offerings.get(type);
    if (found) return found;
    found = [];
    search: for (const other of nodes.values()) {
      for (const [name, output] of Object.entries(other.registered.definition.outputs)) {
        if (!registry.accepts(type, output.type)) continue;
        found.push(`${other.id}.${name}`);
        if (found.length === 5) break search;
      }
    }
    offerings.set(type, found);
    return found;
  };
}
