/**
 * Partial execution ("run to this node", ComfyUI's `partial_execution_targets`): the target nodes and
 * every node they need, and nothing else. A target is a node id, or the id of a subgraph instance (all its
 * inner nodes).
 */
import { pointer, type ValidationIssue } from './issue.js';
import type { Edge } from './schema.js';

/** What a partial run keeps, or why it cannot run. */
export interface TargetSelection {
  readonly keep: Set<string>;
  readonly issues: ValidationIssue[];
}

/**
 * The nodes `targets` need. `inputsOf` gives a running node's edges (after bypass and mute); `skipped`
 * names nodes that do not run; `instances` maps an instance's id to its inner nodes' ids.
 */
export function selectTargets(
  targets: readonly string[],
  inputsOf: (id: string) => Readonly<Record<string, Edge>> | undefined,
  skipped: ReadonlyMap<string, string>,
  instances: ReadonlyMap<string, readonly string[]>,
): TargetSelection {
  const issues: ValidationIssue[] = [];
  const start: string[] = [];
  for (const [i, target] of targets.entries()) {
    const members = instances.get(target) ?? [target];
    const running = members.filter((id) => inputsOf(id) !== undefined);
    if (!running.length) {
      const known = members.some((id) => skipped.has(id));
      issues.push({
        code: known ? 'TARGET_SKIPPED' : 'TARGET_UNKNOWN',
        ...(known ? { nodeId: target } : {}),
        pointer: pointer('targets', String(i)),
        message: known
          ? `Target "${target}" does not run: it is ${skipped.get(members[0]!) === 'muted' ? 'muted' : skipped.get(members[0]!) === 'bypassed' ? 'bypassed' : 'waiting on a node that does not run'}.`
          : `Target "${target}" is not a node of the workflow.`,
        hint: known
          ? 'Unmute it (and what it needs), or pick another node to run to.'
          : 'Name a node id of the workflow.',
      });
      continue;
    }
    start.push(...running);
  }
  const keep = new Set<string>();
  const stack = [...start];
  while (stack.length) {
    const id = stack.pop()!;
    if (keep.has(id)) continue;
    keep.add(id);
    for (const edge of Object.values(inputsOf(id) ?? {})) if (!keep.has(edge.node)) stack.push(edge.node);
  }
  return { keep, issues };
}
