import { BlueprintSchema, WorkflowSchema } from './schema.js';

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

/** The blueprint JSON Schema as published in `schema/blueprint.schema.json`. */
export function blueprintJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(JSON.parse(JSON.stringify(BlueprintSchema)) as Record<string, unknown>),
  };
}

/** The exact text of the published blueprint schema file. */
export function blueprintJsonSchemaText(): string {
  return `${JSON.stringify(blueprintJsonSchema(), null, 2)}\n`;
}
