/**
 * Bypass and mute: which nodes of a (flat, expanded) graph run, and where their inputs then come from.
 *
 * - A muted node does not run. Nor does any node with a required input from a node that does not run;
 *   an optional input from one is left unconnected.
 * - A bypassed node does not run either: each of its outputs passes on its first connected input of the
 *   same port type (through further bypassed nodes), so what reads the output reads that input's source.
 *   An output with no such input gives nothing, as if the node were muted.
 *
 * Pure data: the caller says what ports a node type has (the registry); a muted node of an unknown type
 * is fine (muting is how one keeps a node whose plugin is missing), any other unknown type is left to
 * validation to report.
 */
import type { Edge } from './schema.js';

/** A node as far as modes care. */
export interface ModeNode {
  readonly type: string;
  readonly mode?: 'bypass' | 'mute' | undefined;
  readonly inputs?: Readonly<Record<string, Edge>>;
}

/** The ports of a node type, in declaration order. */
export interface PortsOf {
  readonly inputs: Readonly<Record<string, { readonly type: string; readonly optional?: boolean }>>;
  readonly outputs: Readonly<Record<string, { readonly type: string }>>;
}

/** Why a node does not run. */
export type SkipReason = 'muted' | 'bypassed' | 'needs-skipped';

/** Which nodes run, with the edges they then read, and which do not and why. */
export interface ModeResult {
  /** Inputs of the nodes that run, with edges through bypassed nodes rewired to what they pass on. */
  readonly inputs: Map<string, Record<string, Edge>>;
  readonly skipped: Map<string, SkipReason>;
}

/** Applies bypass and mute to `nodes`. Nodes without a mode and with nothing skipped upstream keep their edges. */
export function applyModes(
  nodes: ReadonlyMap<string, ModeNode>,
  portsOf: (type: string) => PortsOf | undefined,
): ModeResult {
  const skipped = new Map<string, SkipReason>();
  for (const [id, node] of nodes) {
    if (node.mode === 'mute') skipped.set(id, 'muted');
    else if (node.mode === 'bypass') skipped.set(id, 'bypassed');
  }
  const inputs = new Map<string, Record<string, Edge>>();
  if (!skipped.size) {
    for (const [id, node] of nodes) inputs.set(id, { ...(node.inputs ?? {}) });
    return { inputs, skipped };
  }

  /** Where an edge really comes from: through bypassed nodes; undefined when from nothing that runs. */
  const source = (edge: Edge, seen = new Set<string>()): Edge | undefined => {
    const from = nodes.get(edge.node);
    if (!from) return edge; // Not in the graph: validation reports it.
    if (from.mode !== 'bypass') return edge;
    if (seen.has(edge.node)) return undefined; // A loop of bypassed nodes passes nothing.
    seen.add(edge.node);
    const ports = portsOf(from.type);
    const type = ports?.outputs[edge.output]?.type;
    if (!ports || type === undefined) return undefined;
    for (const [name, port] of Object.entries(ports.inputs)) {
      const upstream = from.inputs?.[name];
      if (port.type !== type || !upstream) continue;
      const passed = source(upstream, seen);
      if (passed) return passed;
    }
    return undefined;
  };

  const resolved = new Map<string, Record<string, Edge | undefined>>();
  for (const [id, node] of nodes) {
    if (skipped.has(id)) continue;
    const own: Record<string, Edge | undefined> = {};
    for (const [port, edge] of Object.entries(node.inputs ?? {})) own[port] = source(edge);
    resolved.set(id, own);
  }

  // Skipping spreads downstream until nothing changes (each pass skips at least one node, or stops).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, own] of resolved) {
      if (skipped.has(id)) continue;
      const ports = portsOf(nodes.get(id)!.type);
      for (const [port, edge] of Object.entries(own)) {
        // `source` has already looked through bypassed nodes: what is left is a node that runs, or not.
        if (edge !== undefined && !skipped.has(edge.node)) continue;
        if (ports?.inputs[port]?.optional) {
          delete own[port];
          continue;
        }
        skipped.set(id, 'needs-skipped');
        changed = true;
        break;
      }
    }
  }
  for (const [id, own] of resolved) {
    if (skipped.has(id)) continue;
    const kept: Record<string, Edge> = {};
    for (const [port, edge] of Object.entries(own)) if (edge && !skipped.has(edge.node)) kept[port] = edge;
    inputs.set(id, kept);
  }
  return { inputs, skipped };
}
