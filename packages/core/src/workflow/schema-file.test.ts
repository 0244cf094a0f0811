import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { workflowJsonSchema, workflowJsonSchemaText } from './json-schema.js';

describe('published workflow schema', () => {
  it('is up to date with the TypeBox source (run `npm run schema` if not)', async () => {
    const file = await readFile(new URL('../../schema/workflow.schema.json', import.meta.url), 'utf8');
    expect(file).toBe(workflowJsonSchemaText());
  });

  it('is a JSON Schema that standard ajv compiles and that accepts the shipped workflows', async () => {
    const validate = new Ajv({ strict: false }).compile(workflowJsonSchema());
    expect(
      validate({
        format: 'kinegraph/workflow@1',
        nodes: { a: { type: 'x/y', version: 1, inputs: { p: { node: 'b', output: 'o' } } } },
      }),
    ).toBe(true);
    expect(
      validate({ format: 'kinegraph/workflow@1', nodes: { a: { type: 'x/y', version: 1, inputs: { p: 3 } } } }),
    ).toBe(false);
  });
});
