/**
 * Folds a run's events into its current state. The server keeps one {@link RunSnapshot} per run with it
 * (so a reconnecting client gets the state, not a replay), and the web app folds live events with the same
 * code, so both sides agree on what "cached" or "error" means.
 */
import type { NodeRunState, RunSnapshot, WireEvent } from './protocol.js';

/** A fresh snapshot for a run that was just queued; `skipped` nodes will not run. */
export function queuedRun(
  id: string,
  name: string | undefined,
  nodeIds: readonly string[],
  now = Date.now(),
  skipped: readonly string[] = [],
): RunSnapshot {
  const nodes: Record<string, NodeRunState> = {};
  for (const nodeId of nodeIds) nodes[nodeId] = { status: 'pending', progress: 0 };
  for (const nodeId of skipped) nodes[nodeId] = { status: 'skipped', progress: 0 };
  return {
    id,
    status: 'queued',
    ...(name ? { name } : {}),
    createdAt: now,
    order: [...nodeIds],
    nodes,
    files: [],
    executed: [],
    cached: [],
  };
}

/**
 * Applies one event to a snapshot, in place. Returns true when the run's status changed (so the caller can
 * tell clients about the run as a whole).
 */
export function applyEvent(run: RunSnapshot, event: WireEvent, now = Date.now()): boolean {
  const node = (id: string): NodeRunState => (run.nodes[id] ??= { status: 'pending', progress: 0 });
  switch (event.type) {
    case 'run:start':
      run.order = [...event.nodes];
      for (const id of event.nodes) node(id);
      run.startedAt = now;
      return setStatus(run, 'running');
    case 'node:start': {
      const n = node(event.nodeId);
      n.status = 'running';
      n.progress = 0;
      delete n.error;
      return false;
    }
    case 'node:progress': {
      const n = node(event.nodeId);
      n.status = 'running';
      n.progress = clamp01(event.fraction);
      if (event.message !== undefined) n.message = event.message;
      if (event.preview) n.preview = event.preview;
      return false;
    }
    case 'node:warning':
      (node(event.nodeId).warnings ??= []).push({ code: event.code, message: event.message });
      return false;
    case 'node:cached': {
      const n = node(event.nodeId);
      n.status = 'cached';
      n.progress = 1;
      return false;
    }
    case 'node:done': {
      const n = node(event.nodeId);
      n.status = 'done';
      n.progress = 1;
      n.ms = event.ms;
      const files = Object.values(event.outputs).flatMap((o) =>
        o.kind === 'value' && typeof o.value === 'string' && o.value.startsWith('/api/outputs/') ? [o.value] : [],
      );
      if (files.length) n.files = files;
      return false;
    }
    case 'node:error': {
      const n = node(event.nodeId);
      n.status = 'error';
      n.error = event.error;
      return false;
    }
    case 'run:done':
      run.files = [...event.files];
      run.executed = [...event.executed];
      run.cached = [...event.cached];
      run.ms = event.ms;
      run.endedAt = now;
      return setStatus(run, 'done');
    case 'run:error':
      run.error = { ...event.error, ...(event.nodeId !== undefined ? { nodeId: event.nodeId } : {}) };
      run.ms = event.ms;
      run.endedAt = now;
      if (event.nodeId !== undefined) {
        const n = node(event.nodeId);
        n.status = 'error';
        n.error ??= event.error;
      }
      // Nodes still running when another failed were abandoned, not finished.
      for (const n of Object.values(run.nodes)) if (n.status === 'running') n.status = 'pending';
      return setStatus(run, 'error');
    case 'run:cancelled':
      run.ms = event.ms;
      run.endedAt = now;
      for (const n of Object.values(run.nodes)) if (n.status === 'running') n.status = 'pending';
      return setStatus(run, 'cancelled');
  }
}

function setStatus(run: RunSnapshot, status: RunSnapshot['status']): boolean {
  if (run.status === status) return false;
  run.status = status;
  return true;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** True once a run can change no more. */
export function isFinished(run: RunSnapshot): boolean {
  return run.status === 'done' || run.status === 'error' || run.status === 'cancelled';
}
