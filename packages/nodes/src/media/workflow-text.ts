/** Metadata key under which saved files carry the workflow that made them. */
export const WORKFLOW_KEY = 'kinegraph-workflow';

/**
 * JSON of the workflow with every non-ASCII character written as a `\uXXXX` escape. Still valid JSON that
 * parses back to the same value, but safe for containers whose text fields are Latin-1 (PNG tEXt) or
 * 7-bit (GIF comments), so prompts in any script survive the round trip.
 */
export function workflowToAscii(workflow: unknown): string {
  return JSON.stringify(workflow).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
