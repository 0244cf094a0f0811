import { pointer, type ValidationIssue } from '../workflow/issue.js';
import type { Edge, WorkflowNode } from '../workflow/schema.js';
import type { PreparedNode } from './prepared.js';

/**
 * Phase 5, cycles and order: the order the nodes run in (every node after the nodes it reads from), and a
 * CYCLE issue naming the nodes of each cycle, in the direction data flows. Only edges between well-formed
 * nodes count; the edges of a node that failed an earlier phase are taken as saved.
 */
export function orderNodes(
  saved: ReadonlyMap<string, WorkflowNode>,
  prepared: ReadonlyMap<string, PreparedNode>,
): { order: string[]; issues: ValidationIssue[] } {
  const dependsOn = new Map<string, string[]>();
  for (const [id, node] of saved) {
    const inputs: Readonly<Record<string, Edge>> = prepared.get(id)?.inputs ?? node.inputs ?? {};
    dependsOn.set(
      id,
      Object.values(inputs)
        .map((edge) => edge.node)
        .filter((n) => saved.has(n)),
    );
  }
  const { cycles, order } = findCycles(dependsOn);
  const issues = cycles.map(
    (cycle): ValidationIssue => ({
      code: 'CYCLE',
      nodeId: cycle[0],
      pointer: pointer('nodes', cycle[0]!),
      message: `The workflow has a cycle: ${[...cycle, cycle[0]].join(' \u2192 ')}.`,
      hint: 'A node cannot depend on its own output; remove one of the edges on this cycle.',
    }),
  );
  return { order, issues };
}

/**
 * Finds every cycle (strongly connected component with more than one node, or a self-loop) and a
 * dependency order of the nodes. `dependsOn` maps a node to the nodes it reads from. Iterative Tarjan, so
 * a 10,000-node chain does not overflow the stack; linear in nodes + edges.
 */
export function findCycles(dependsOn: ReadonlyMap<string, readonly string[]>): { cycles: string[][]; order: string[] } {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  // Tarjan emits components in reverse topological order of the "reads from" graph: dependencies first.
  const order: string[] = [];

  for (const root of dependsOn.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; next: number }> = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const deps = dependsOn.get(frame.node) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (!dependsOn.has(dep)) continue;
        if (!index.has(dep)) {
          index.set(dep, counter);
          low.set(dep, counter++);
          stack.push(dep);
          onStack.add(dep);
          work.push({ node: dep, next: 0 });
        } else if (onStack.has(dep)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(dep)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = component.length === 1 && deps.includes(frame.node);
        if (component.length > 1 || selfLoop) cycles.push(dataFlowPath(component, dependsOn));
        order.push(...component);
      }
    }
  }
  return { cycles, order };
}

// Orders a component's nodes along its edges in the direction data flows (producer before consumer), so
// the message reads as a path a person can follow in the editor.
function dataFlowPath(component: string[], dependsOn: ReadonlyMap<string, readonly string[]>): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0]!;
  const path = [start];
  const seen = new Set(path);
  for (let current = start; ; ) {
    const next = (dependsOn.get(current) ?? []).find((d) => members.has(d) && !seen.has(d));
    if (next === undefined) break;
    path.push(next);
    seen.add(next);
    current = next;
  }
  // Nodes of a tangled component that the walk missed are still named.
  for (const member of component) if (!seen.has(member)) path.push(member);
  return path.reverse();
}
