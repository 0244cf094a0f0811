// `npm run bench`: runs every benchmark, prints its tables, writes bench/results.json. Never part of
// `npm test`: figures depend on the machine, tests do not.
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';

const suites = [
  ['core-graph', './core-graph.mjs'],
  ['core-worker', './core-worker.mjs'],
  ['workflows', './workflows.mjs'],
  ['torch', './torch.mjs'],
];

const results = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  suites: {},
};
for (const [name, path] of suites) {
  console.log(`\n## ${name}`);
  const module = await import(path);
  results.suites[name] = await module.bench();
}
await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwrote bench/results.json');
