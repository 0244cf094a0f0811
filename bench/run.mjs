// `npm run bench`: runs every benchmark, prints its tables, writes bench/results.json. Never part of
// `npm test`: figures depend on the machine, tests do not.
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';

const suites = [
  ['core-graph', './core-graph.mjs'],
  ['core-worker', './core-worker.mjs'],
  ['workflows', './workflows.mjs'],
  ['torch', './torch.mjs'],
  ['quality', './quality.mjs'],
  ['attacks', './attacks.mjs'],
  ['webgpu', './webgpu.mjs'],
  ['queue', './queue.mjs'],
  ['isolation', './isolation.mjs'],
];

// Figures from a busy machine mislead: a training job on one of 2 cores made every session run 1.5-4x
// slower and torch's spinning threads far slower still. Say so, loudly, in the output and in the JSON.
const load = loadavg()[0];
const busy = load > 0.5 * cpus().length;
if (busy)
  console.warn(
    `WARNING: load average ${load.toFixed(2)} on ${cpus().length} cores: other work is running, so these figures are not comparable. Stop it and run again.`,
  );

const results = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: load,
    busy,
  },
  suites: {},
};
// `npm run bench -- workflows torch` runs only the named suites.
const only = process.argv.slice(2);
const unknown = only.filter((n) => !suites.some(([name]) => name === n));
if (unknown.length) {
  console.error(`Unknown suite ${unknown.join(', ')}; the suites are ${suites.map(([n]) => n).join(', ')}.`);
  process.exit(2);
}
for (const [name, path] of suites.filter(([n]) => only.length === 0 || only.includes(n))) {
  console.log(`\n## ${name}`);
  const module = await import(path);
  results.suites[name] = await module.bench({ explicit: only.includes(name) });
}
await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwrote bench/results.json');
