/** Which node types can take, or give, a port type: for the node search a released link opens. */
import type { NodeDescription } from '@kinegraph/core';
import { type Catalog, inputSlotType } from './catalog.js';

/** What a released link needs from a new node: an input that takes `type`, or an output that gives one of `types`. */
export type PortNeed =
  | { readonly side: 'input'; readonly type: string }
  | { readonly side: 'output'; readonly types: string[] };

/** The port types a litegraph slot type stands for (inputs list every type they accept, comma-separated). */
export function slotTypes(slotType: unknown): string[] {
  return String(slotType ?? '*')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

/** The first port of `description` that meets `need`, by name; undefined when there is none. */
export function matchingPort(catalog: Catalog, description: NodeDescription, need: PortNeed): string | undefined {
  if (need.side === 'input') {
    for (const [name, port] of Object.entries(description.inputs)) {
      const accepted = slotTypes(inputSlotType(port.type, catalog.portTypes));
      if (need.type === '*' || accepted.includes('*') || accepted.includes(need.type)) return name;
    }
    return undefined;
  }
  for (const [name, port] of Object.entries(description.outputs))
    if (need.types.includes('*') || need.types.includes(port.type)) return name;
  return undefined;
}

/** A short phrase for the search box's filter chip: "takes video", "gives embedding or image". */
export function describeNeed(need: PortNeed): string {
  return need.side === 'input' ? `takes ${need.type}` : `gives ${need.types.join(' or ')}`;
}
