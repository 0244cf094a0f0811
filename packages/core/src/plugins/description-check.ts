import type { PluginDescriptionWire } from './protocol.js';
import { paramSchemaProblem } from './schema-check.js';

const CSS_COLOR = /^(#[0-9a-f]{3,8}|[a-z]{3,20}|(rgb|rgba|hsl|hsla)\([\d\s.,%/-]{1,60}\))$/i;

/** Checks a plugin description from a plugin process before its nodes become proxies. */
export function descriptionProblem(plugin: PluginDescriptionWire): string | undefined {
  if (typeof plugin.name !== 'string' || !plugin.name) return 'the plugin has no name';
  if (!Array.isArray(plugin.nodes)) return 'nodes is not a list';
  if (plugin.portTypes !== undefined && !Array.isArray(plugin.portTypes)) return 'portTypes is not a list';
  for (const portType of plugin.portTypes ?? []) {
    const p = portType as unknown as Record<string, unknown>;
    if (typeof p.name !== 'string' || typeof p.description !== 'string')
      return 'a port type has no name or description';
    // The editor paints with it: a colour, nothing that could be read as more than one.
    if (typeof p.color !== 'string' || !CSS_COLOR.test(p.color))
      return `port type ${p.name}: color is not a CSS colour`;
    if (p.accepts !== undefined && !(Array.isArray(p.accepts) && p.accepts.every((a) => typeof a === 'string')))
      return `port type ${p.name}: accepts is not a list of names`;
  }
  for (const node of plugin.nodes) {
    const n = node as unknown as Record<string, unknown>;
    for (const field of ['type', 'title', 'category', 'description'])
      if (typeof n[field] !== 'string') return `a node has no ${field}`;
    const params = n.params as { type?: unknown; properties?: unknown } | null;
    if (
      typeof params !== 'object' ||
      params === null ||
      params.type !== 'object' ||
      typeof params.properties !== 'object'
    )
      return `${String(n.type)}: params are not an object schema`;
    for (const ports of [n.inputs, n.outputs]) {
      if (typeof ports !== 'object' || ports === null) return `${String(n.type)}: ports are not an object`;
      for (const port of Object.values(ports))
        if (typeof (port as { type?: unknown })?.type !== 'string') return `${String(n.type)}: a port has no type`;
    }
    if (!Array.isArray(n.migrations) || !n.migrations.every(Number.isInteger))
      return `${String(n.type)}: bad migrations`;
    const schema = paramSchemaProblem(params);
    if (schema) return `${String(n.type)}: ${schema}`;
  }
  return undefined;
}
