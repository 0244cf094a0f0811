import { WorkflowSchema } from './schema.js';

/** The workflow JSON Schema as published in `schema/workflow.schema.json` (draft 2020-12 compatible). */
export function workflowJsonSchema(): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol-keyed metadata, leaving plain JSON Schema.
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(JSON.parse(JSON.stringify(WorkflowSchema)) as Record<string, unknown>),
  };
}

/** The exact text of the published schema file. */
export function workflowJsonSchemaText(): string {
  return `${JSON.stringify(workflowJsonSchema(), null, 2)}\n`;
}
