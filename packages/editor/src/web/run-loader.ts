/**
 * Opening a run from the queue or history: its exact workflow goes on the canvas with its states, previews
 * and results on the nodes. When the canvas holds something else, the editor asks first (and the load can
 * be undone).
 */
import type { Workflow } from '@kinegraph/core';
import { ApiError, call } from './api.js';
import type { EditorApp } from './app.js';
import type { Catalog } from './catalog.js';
import { askConfirm } from './ui/dialog.js';

/**
 * What decides whether two workflows run the same: node types, versions, params and edges (layout, titles
 * and colours do not count).
 */
export function runKey(workflow: Workflow, defaultsOf: (type: string) => Record<string, unknown> = () => ({})): string {
  // The server fills in params left at their defaults: so does the comparison.
  const nodes = Object.keys(workflow.nodes)
    .sort()
    .map((id) => {
      const n = workflow.nodes[id]!;
      const params = { ...defaultsOf(n.type), ...(n.params ?? {}) };
      return [id, n.type, stable(params), stable(n.inputs ?? {}), n.mode];
    });
  return JSON.stringify([nodes, stable(workflow.subgraphs ?? {})]);
}

/** The schema defaults of a node type's params, from the catalogue. */
export function defaultsFrom(catalog: Catalog): (type: string) => Record<string, unknown> {
  const byType = new Map(catalog.nodes.map((n) => [n.type, n]));
  return (type) => {
    const props = (byType.get(type)?.params as { properties?: Record<string, { default?: unknown }> } | undefined)
      ?.properties;
    const out: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(props ?? {}))
      if (schema.default !== undefined) out[name] = schema.default;
    return out;
  };
}

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
  );
}

/** Shows run `runId` on the canvas, loading its workflow when the canvas holds another one. */
export async function openRun(
  app: EditorApp,
  runId: string,
  events: { toast(text: string, kind?: 'info' | 'error'): void },
): Promise<void> {
  let workflow: Workflow;
  try {
    ({ workflow } = await call<{ workflow: Workflow }>(`/api/jobs/${encodeURIComponent(runId)}`));
    if (typeof workflow !== 'object' || workflow === null)
      throw new Error('The server no longer keeps this run’s workflow.');
  } catch (error) {
    events.toast(error instanceof ApiError ? error.body.error.message : (error as Error).message, 'error');
    return;
  }
  const defaults = defaultsFrom(app.catalog);
  if (runKey(workflow, defaults) === runKey(app.workflow(), defaults)) {
    app.showRun(runId);
    return;
  }
  const run = app.runs.get(runId);
  const ok = await askConfirm({
    title: 'Open this run?',
    message: `The canvas will show the workflow of "${run?.name ?? 'this run'}" as it ran, with its results. Your current graph is replaced; Ctrl+Z brings it back.`,
    ok: 'Open run',
  });
  if (!ok) return;
  app.load(workflow, { history: 'record', run: runId });
}
