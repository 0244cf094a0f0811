/** Stable codes of everything validation can report. Never renamed; new ones are only added. */
export const VALIDATION_CODES = [
  'WORKFLOW_NOT_OBJECT',
  'FORMAT_UNSUPPORTED',
  'WORKFLOW_SCHEMA',
  'NODE_ID_INVALID',
  'NODE_TYPE_UNKNOWN',
  'NODE_VERSION_NEWER',
  'MIGRATION_MISSING',
  'MIGRATION_FAILED',
  'PARAM_UNKNOWN',
  'PARAM_MISSING',
  'PARAM_INVALID',
  'INPUT_UNKNOWN',
  'INPUT_MISSING',
  'INPUT_NODE_MISSING',
  'OUTPUT_UNKNOWN',
  'PORT_TYPE_MISMATCH',
  'CYCLE',
  'SET_TARGET_UNKNOWN',
  'SUBGRAPH_UNKNOWN',
  'SUBGRAPH_INVALID',
  'SUBGRAPH_CYCLE',
  'TARGET_UNKNOWN',
  'TARGET_SKIPPED',
] as const;

export type ValidationCode = (typeof VALIDATION_CODES)[number];

/** One problem found in a workflow. Validation lists every one it finds, not just the first. */
export interface ValidationIssue {
  readonly code: ValidationCode;
  /** The node the problem is in, when it is in one. */
  readonly nodeId?: string;
  /** JSON pointer (RFC 6901) into the workflow document. */
  readonly pointer: string;
  readonly message: string;
  /** What to do, listing valid values where there are any. */
  readonly hint: string;
}

/** Escapes one JSON pointer segment. */
export function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Builds a JSON pointer from segments. */
export function pointer(...segments: string[]): string {
  return segments.map((s) => `/${pointerSegment(s)}`).join('');
}

/** One line per issue, for terminals and logs. */
export function formatIssue(issue: ValidationIssue): string {
  const where = issue.nodeId !== undefined ? `node "${issue.nodeId}"` : issue.pointer || 'workflow';
  return `${issue.code} at ${where} (${issue.pointer || '/'}): ${issue.message}\n    hint: ${issue.hint}`;
}
