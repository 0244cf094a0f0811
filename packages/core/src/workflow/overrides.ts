import { didYouMean, listOf } from '../util/did-you-mean.js';
import type { ValidationIssue } from './issue.js';
import { pointer } from './issue.js';

/** One `--set node.param=value` override. */
export interface ParamOverride {
  readonly nodeId: string;
  readonly param: string;
  readonly value: unknown;
}

/**
 * Parses `node.param=value`. The value is read as JSON when it parses as JSON (numbers, booleans, arrays),
 * otherwise taken as a string, so `--set prompt.text=a red circle` needs no quotes.
 */
export function parseOverride(text: string): ParamOverride | undefined {
  const eq = text.indexOf('=');
  if (eq < 0) return undefined;
  const target = text.slice(0, eq);
  const dot = target.indexOf('.');
  if (dot <= 0 || dot === target.length - 1) return undefined;
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // Not JSON: a plain string.
  }
  return { nodeId: target.slice(0, dot), param: target.slice(dot + 1), value };
}

/** Applies overrides to a copy of a workflow document; unknown node ids are issues (with suggestions). */
export function applyOverrides(
  document: unknown,
  overrides: readonly ParamOverride[],
): { document: unknown; issues: ValidationIssue[] } {
  if (!overrides.length) return { document, issues: [] };
  const copy = structuredClone(document) as { nodes?: Record<string, { params?: Record<string, unknown> }> };
  const issues: ValidationIssue[] = [];
  const nodes = copy?.nodes && typeof copy.nodes === 'object' ? copy.nodes : undefined;
  for (const override of overrides) {
    const node = nodes?.[override.nodeId];
    if (!node || typeof node !== 'object') {
      const ids = Object.keys(nodes ?? {});
      const close = didYouMean(override.nodeId, ids);
      issues.push({
        code: 'SET_TARGET_UNKNOWN',
        nodeId: override.nodeId,
        pointer: pointer('nodes', override.nodeId),
        message: `--set names node "${override.nodeId}", which is not in the workflow.`,
        hint: `${close.length ? `Did you mean "${close[0]}"? ` : ''}Nodes: ${ids.length ? listOf(ids) : '(none)'}.`,
      });
      continue;
    }
    node.params = { ...(node.params ?? {}), [override.param]: override.value };
  }
  return { document: copy, issues };
}
