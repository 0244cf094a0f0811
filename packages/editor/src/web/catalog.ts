/** The node catalogue the palette is built from: exactly what `GET /api/nodes` returns. */
import type { BlueprintDescription, NodeDescription } from '@kinegraph/core';
import type { PortLayout } from '../shared/convert.js';

/** A port type as the server describes it. */
export interface PortTypeInfo {
  name: string;
  description: string;
  color: string;
  accepts?: string[];
}

/** `GET /api/nodes`. */
export interface Catalog {
  nodes: NodeDescription[];
  portTypes: PortTypeInfo[];
  /** Subgraph blueprints that installed plugins ship (older servers send none). */
  blueprints?: BlueprintDescription[];
}

/**
 * The litegraph slot type of an input: its own type plus every type it accepts, comma-separated, which
 * is how litegraph spells "any of these" when it checks a connection.
 */
export function inputSlotType(type: string, portTypes: readonly PortTypeInfo[]): string {
  const accepts = portTypes.find((p) => p.name === type)?.accepts ?? [];
  return [type, ...accepts].join(',');
}

/** Port layouts for the conversion, from the catalogue. */
export function layoutsOf(catalog: Catalog): (type: string) => PortLayout | undefined {
  const byType = new Map(catalog.nodes.map((n) => [n.type, n]));
  return (type) => {
    const d = byType.get(type);
    if (!d) return undefined;
    return {
      title: d.title,
      inputs: Object.entries(d.inputs).map(([name, p]) => ({ name, type: inputSlotType(p.type, catalog.portTypes) })),
      outputs: Object.entries(d.outputs).map(([name, p]) => ({ name, type: p.type })),
    };
  };
}

/** Title-bar colours per palette category (the first path segment), so kinds of node read at a glance. */
export const CATEGORY_COLORS: Readonly<Record<string, { color: string; bgcolor: string }>> = {
  loaders: { color: '#6b2f2f', bgcolor: '#2d2222' },
  conditioning: { color: '#23524c', bgcolor: '#1f2927' },
  sampling: { color: '#4b3773', bgcolor: '#26222f' },
  model: { color: '#6a3a55', bgcolor: '#2b2228' },
  io: { color: '#2f4a6b', bgcolor: '#21262d' },
};
