// Writes schema/workflow.schema.json from the TypeBox source (via the built package), or with --check
// fails when the checked-in file is out of date. The TypeBox schema is the one source of truth.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { workflowJsonSchemaText } from '../dist/index.js';

const target = fileURLToPath(new URL('../schema/workflow.schema.json', import.meta.url));
const expected = workflowJsonSchemaText();
if (process.argv.includes('--check')) {
  const actual = await readFile(target, 'utf8').catch(() => '');
  if (actual !== expected) {
    console.error('packages/core/schema/workflow.schema.json is out of date: run `npm run schema`.');
    process.exit(1);
  }
  console.log('workflow.schema.json is up to date');
} else {
  await writeFile(target, expected);
  console.log(`wrote ${target}`);
}
