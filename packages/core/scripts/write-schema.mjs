// Writes schema/workflow.schema.json and schema/blueprint.schema.json from the TypeBox source (via the
// built package), or with --check fails when a checked-in file is out of date. The TypeBox schema is the
// one source of truth.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { blueprintJsonSchemaText, workflowJsonSchemaText } from '../dist/index.js';

const files = [
  ['workflow.schema.json', workflowJsonSchemaText()],
  ['blueprint.schema.json', blueprintJsonSchemaText()],
];
let stale = false;
for (const [name, expected] of files) {
  const target = fileURLToPath(new URL(`../schema/${name}`, import.meta.url));
  if (process.argv.includes('--check')) {
    const actual = await readFile(target, 'utf8').catch(() => '');
    if (actual !== expected) {
      console.error(`packages/core/schema/${name} is out of date: run \`npm run schema\`.`);
      stale = true;
    } else console.log(`${name} is up to date`);
  } else {
    await writeFile(target, expected);
    console.log(`wrote ${target}`);
  }
}
if (stale) process.exit(1);
