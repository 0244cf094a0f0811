// Benchmark: validation time of generated workflows (100 / 1,000 / 10,000 nodes) and scheduler
// throughput on a 10,000-node graph of trivial nodes. Run through `npm run bench`, or alone with
// `node bench/core-graph.mjs` after `npm run build -w @kinegraph/core`.
import { pathToFileURL } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import { executeWorkflow, NodeRegistry, OutputCache, Runtime, validateWorkflow } from '../packages/core/dist/index.js';

// Trivial nodes as plain objects: the cost measured is the runtime's, not the nodes'.
const source = {
  type: 'bench/source',
  version: 1,
  title: 'Source',
  category: 'bench',
  description: 'A number.',
  params: {
    type: 'object',
    properties: { value: { type: 'number', default: 1 }, label: { type: 'string', default: 'x' } },
  },
  inputs: {},
  outputs: { value: { type: 'text' } },
  run: ({ params }) => ({ value: String(params.value) }),
};
const add = {
  type: 'bench/add',
  version: 1,
  title: 'Add',
  category: 'bench',
  description: 'Joins two inputs.',
  params: {
    type: 'object',
    properties: {
      mode: { enum: ['a', 'b', 'c'], default: 'a' },
      weight: { type: 'number', minimum: 0, maximum: 10, default: 1 },
    },
  },
  inputs: { a: { type: 'text' }, b: { type: 'text', optional: true } },
  outputs: { value: { type: 'text' } },
  run: ({ inputs }) => ({ value: inputs.a.length > 8 ? inputs.a.slice(0, 8) : inputs.a + (inputs.b ?? '') }),
};
const plugin = { name: 'bench-plugin', nodes: [source, add] };

/** A layered DAG: each node reads one or two nodes from the previous layer (width 20). */
export function generateWorkflow(count) {
  const nodes = {};
  const width = 20;
  for (let i = 0; i < count; i++) {
    if (i < width) nodes[`n${i}`] = { type: 'bench/source', version: 1, params: { value: i } };
    else {
      const a = i - width - (i % 3);
      nodes[`n${i}`] = {
        type: 'bench/add',
        version: 1,
        params: { weight: (i % 10) + 0.5 },
        inputs: { a: { node: `n${Math.max(0, a)}`, output: 'value' }, b: { node: `n${i - width}`, output: 'value' } },
      };
    }
  }
  return { format: 'kinegraph/workflow@1', name: `generated ${count}`, nodes };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

export async function bench({ quiet = false } = {}) {
  const registry = new NodeRegistry();
  registry.register(plugin);
  const validation = [];
  for (const count of [100, 1000, 10000]) {
    const doc = generateWorkflow(count);
    const reps = count >= 10000 ? 5 : 20;
    const times = [];
    for (let r = 0; r < reps + 2; r++) {
      const t = performance.now();
      const result = validateWorkflow(doc, registry);
      const ms = performance.now() - t;
      if (!result.ok) throw new Error(`generated workflow invalid: ${JSON.stringify(result.issues.slice(0, 3))}`);
      if (r >= 2) times.push(ms); // two warm-up rounds (ajv compile, JIT)
    }
    validation.push({ nodes: count, medianMs: median(times), usPerNode: (median(times) * 1000) / count });
  }

  const doc = generateWorkflow(10000);
  const prepared = validateWorkflow(doc, registry).prepared;
  const runs = [];
  for (let r = 0; r < 3; r++) {
    const cache = new OutputCache(() => undefined, 0);
    const t = performance.now();
    const events = await lastValueFrom(
      executeWorkflow(prepared, {
        store: () => Promise.reject(new Error('no tensors here')),
        cache,
        outputFolder: '/tmp/kg-bench',
        allowedFolders: [],
      }).pipe(toArray()),
    );
    const ms = performance.now() - t;
    if (events.at(-1).type !== 'run:done') throw new Error(`run failed: ${JSON.stringify(events.at(-1))}`);
    runs.push(ms);
  }
  const runMs = median(runs);
  // Re-run with everything cached: the cost of hashing and cache look-ups alone.
  const runtime = await Runtime.create({ plugins: [plugin] });
  await lastValueFrom(runtime.run(prepared, { outputFolder: '/tmp/kg-bench', allowedFolders: [] }).pipe(toArray()));
  const t = performance.now();
  await lastValueFrom(runtime.run(prepared, { outputFolder: '/tmp/kg-bench', allowedFolders: [] }).pipe(toArray()));
  const cachedMs = performance.now() - t;
  await runtime.close();
  const scheduler = {
    nodes: 10000,
    runMs,
    usPerNode: (runMs * 1000) / 10000,
    nodesPerSecond: 10000 / (runMs / 1000),
    cachedRunMs: cachedMs,
    cachedUsPerNode: (cachedMs * 1000) / 10000,
  };

  if (!quiet) {
    console.log('\nValidation of generated workflows (median)');
    console.log('| nodes | ms | µs/node |\n| ---: | ---: | ---: |');
    for (const v of validation) console.log(`| ${v.nodes} | ${v.medianMs.toFixed(2)} | ${v.usPerNode.toFixed(1)} |`);
    const growth = validation[2].medianMs / validation[1].medianMs;
    console.log(`growth 1,000 → 10,000 nodes: ${growth.toFixed(1)}× (linear would be 10×)`);
    console.log('\nScheduler, 10,000 trivial nodes (cache off)');
    console.log(
      `| run ms | µs/node (overhead per node) | nodes/s | all-cached re-run ms | µs/node cached |\n| ---: | ---: | ---: | ---: | ---: |`,
    );
    console.log(
      `| ${runMs.toFixed(0)} | ${scheduler.usPerNode.toFixed(1)} | ${scheduler.nodesPerSecond.toFixed(0)} | ${cachedMs.toFixed(0)} | ${scheduler.cachedUsPerNode.toFixed(1)} |`,
    );
  }
  return { validation, scheduler };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bench();
