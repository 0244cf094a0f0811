/**
 * Cache-aware routing. Each worker keeps its own output cache, keyed by a content hash of a node and its
 * ancestors, so a re-run with one param changed only recomputes the nodes downstream of it — on the worker
 * that ran the first run. The server computes the same kind of key for every node (type, version, params
 * and the keys of its inputs; the scheduler adds a fingerprint of files read, which only a worker can
 * compute), finds the recent run sharing the most of them, and offers the new run to that run's worker
 * when it is free.
 */
import { contentHash, type PreparedWorkflow } from '@kinegraph/core';

/** Each node's structural key, in the run's order. */
export function structuralKeys(prepared: PreparedWorkflow): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const id of prepared.order) {
    const node = prepared.nodes.get(id)!;
    const definition = node.registered.definition;
    const inputs: Record<string, string> = {};
    for (const [port, edge] of Object.entries(node.inputs)) inputs[port] = `${keys[edge.node]}.${edge.output}`;
    keys[id] = contentHash({ type: definition.type, version: definition.version, params: node.params, inputs });
  }
  return keys;
}

/** A finished run a new one could re-use results of. */
export interface RouteCandidate {
  readonly id: string;
  readonly workerId: string;
  readonly keys: ReadonlySet<string>;
  readonly endedAt: number;
}

/** The candidate sharing the most node keys with `keys` (the most recent on a tie), if any shares one. */
export function findParent(keys: Readonly<Record<string, string>>, candidates: Iterable<RouteCandidate>) {
  let best: { candidate: RouteCandidate; shared: number } | undefined;
  const wanted = Object.values(keys);
  for (const candidate of candidates) {
    const shared = wanted.filter((k) => candidate.keys.has(k)).length;
    if (shared === 0) continue;
    if (!best || shared > best.shared || (shared === best.shared && candidate.endedAt > best.candidate.endedAt))
      best = { candidate, shared };
  }
  return best;
}
