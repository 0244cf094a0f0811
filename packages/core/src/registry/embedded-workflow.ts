/**
 * Reading back a workflow that a node embedded in a file it wrote (a PNG text chunk, a GIF comment, an MP4
 * or WebM tag). Two owners, one seam: the node library that writes a container knows where in it the text
 * sits and contributes a `WorkflowTextReader` through its plugin (`sdk/plugin.ts`); core owns what the text must be (a
 * `kinegraph/workflow@1` JSON object of bounded depth), so every host (the editor's server, the CLI) reads
 * embedded workflows through the runtime without importing a node library.
 */
import type { WorkflowTextReader } from '../sdk/plugin.js';
import { KinegraphError } from '../util/errors.js';
import { depthExceededAt, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { WORKFLOW_FORMAT } from '../workflow/schema.js';

/**
 * The workflow embedded in `bytes`, found by the first reader that recognises them: the first candidate
 * text that parses (within {@link MAX_JSON_DEPTH}) to an object whose `format` is
 * `kinegraph/workflow@1`. `undefined` when the file carries none. Throws `EMBEDDED_WORKFLOW_INVALID` when
 * a Kinegraph-only tag holds something else. The result is not validated against the registry: hosts
 * validate it as they would any workflow a user gives.
 */
export function readEmbeddedWorkflow(
  bytes: Uint8Array,
  readers: readonly WorkflowTextReader[],
): Record<string, unknown> | undefined {
  for (const reader of readers) {
    const found = reader.read(bytes);
    if (found === undefined) continue;
    for (const text of found.texts) {
      const value = parseWorkflow(text);
      if (value !== undefined) return value;
    }
    if (found.ownTag && found.texts.length > 0)
      throw new KinegraphError(
        'EMBEDDED_WORKFLOW_INVALID',
        `The embedded workflow in this ${reader.name} file is not a valid ${WORKFLOW_FORMAT} JSON object.`,
        {
          hint: 'The file\u2019s metadata was damaged or edited; load the workflow from its JSON file instead.',
        },
      );
    return undefined;
  }
  return undefined;
}

function parseWorkflow(text: string): Record<string, unknown> | undefined {
  if (depthExceededAt(text) >= 0) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    return (value as { format?: unknown }).format === WORKFLOW_FORMAT ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
