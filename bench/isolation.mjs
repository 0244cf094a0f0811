// Benchmark: what running a plugin isolated (in a plugin process, packages/core/src/plugins) costs
// against the same plugin loaded into the runtime.
//
// 1. Per node: the plugin node of the color-grade and seamless-loop workflows (lift/gamma/gain;
//    cross-fade) on the sampler's real output, re-run again and again. A pass-through node between the
//    sampler and the plugin node takes a new param each time, so the sampler stays cached and only the
//    pass-through and the plugin node run; the figure is the plugin node's own time (`node:done.ms`:
//    its run with every message to and from its process). Isolated and in-process runs alternate.
// 2. Whole workflows: each at its saved settings, end to end (MP4 written), isolated and in-process in
//    alternating order; once into one output folder per mode (the plugin's process is reused, as in the
//    editor), once into a new folder every run (a new process every run, as with each `kinegraph run`).
// 3. Start-up of a plugin process: spawn to plugin loaded and described (discovery of one plugin), and
//    its parts: a bare `node`, `node` with the permission flags, and both inside the namespaces.
//
// Run: `npm run bench -- isolation`, or `node bench/isolation.mjs` after `npm run build`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineNode, findPlugins, loadPlugins, NodeRegistry, Runtime, Type } from '../packages/core/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const NODE_RUNS = Number(process.env.KG_BENCH_ISOLATION_RUNS ?? 300);
const WORKFLOW_PAIRS = Number(process.env.KG_BENCH_ISOLATION_PAIRS ?? 3);
const STARTS = 10;

const tick = defineNode({
  type: 'bench/tick',
  version: 1,
  title: 'Tick',
  category: 'bench',
  description: 'Passes its video through; a new `n` re-runs what follows it.',
  params: Type.Object({ n: Type.Integer({ default: 0 }) }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  run: ({ inputs }) => ({ video: inputs.video }),
});

const CASES = [
  { workflow: 'color-grade', node: 'grade' },
  { workflow: 'seamless-loop', node: 'loop' },
];

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const median = (xs) => quantile(xs, 0.5);

function collect(observable) {
  return new Promise((resolve, reject) => {
    const events = [];
    observable.subscribe({ next: (e) => events.push(e), error: reject, complete: () => resolve(events) });
  });
}

function load(workflow) {
  return JSON.parse(readFileSync(join(root, 'workflows', `${workflow}.json`), 'utf8'));
}

/** The workflow with `save` left out and a tick between the sampler and the plugin node. */
function perNodeWorkflow(workflow, node) {
  const doc = load(workflow);
  delete doc.nodes.save;
  doc.nodes.tick = {
    type: 'bench/tick',
    version: 1,
    params: { n: 0 },
    inputs: { video: { node: 'sampler', output: 'video' } },
  };
  doc.nodes[node].inputs.video = { node: 'tick', output: 'video' };
  return doc;
}

async function perNode(runtimes, { workflow, node }) {
  const doc = perNodeWorkflow(workflow, node);
  const out = mkdtempSync(join(tmpdir(), 'kg-bench-iso-'));
  const times = { isolated: [], inProcess: [] };
  let n = 0;
  const once = async (mode) => {
    doc.nodes.tick.params.n = ++n;
    const events = await collect(
      runtimes[mode].run(doc, { outputFolder: out, allowedFolders: [join(root, 'workflows')], previews: false }),
    );
    const done = events.find((e) => e.type === 'node:done' && e.nodeId === node);
    if (!done) throw new Error(`${workflow} (${mode}): ${JSON.stringify(events.at(-1))}`);
    return done.ms;
  };
  // Warm-up: the sampler's output gets cached, sessions and processes start.
  for (let i = 0; i < 5; i++) for (const mode of ['isolated', 'inProcess']) await once(mode);
  for (let i = 0; i < NODE_RUNS; i++) {
    const order = i % 2 ? ['isolated', 'inProcess'] : ['inProcess', 'isolated'];
    for (const mode of order) times[mode].push(await once(mode));
  }
  const row = (xs) => ({ median: median(xs), p99: quantile(xs, 0.99) });
  const iso = row(times.isolated);
  const inp = row(times.inProcess);
  return {
    workflow,
    node,
    runs: NODE_RUNS,
    isolatedMs: iso,
    inProcessMs: inp,
    overheadMs: { median: iso.median - inp.median, p99: iso.p99 - inp.p99 },
    ratio: { median: iso.median / inp.median, p99: iso.p99 / inp.p99 },
  };
}

/**
 * Each workflow end to end, isolated and in-process alternating. `fresh`: a new output folder every run, so
 * the isolated plugin gets a new process every run (as each `kinegraph run` does; it starts while the
 * sampler runs); otherwise one output folder per mode, so its process is reused (as in the editor).
 */
async function whole(runtimes, { workflow }, fresh) {
  const doc = load(workflow);
  const times = { isolated: [], inProcess: [] };
  const folders = {
    isolated: mkdtempSync(join(tmpdir(), 'kg-bench-iso-')),
    inProcess: mkdtempSync(join(tmpdir(), 'kg-bench-iso-')),
  };
  for (let i = 0; i < WORKFLOW_PAIRS; i++) {
    const order = i % 2 ? ['isolated', 'inProcess'] : ['inProcess', 'isolated'];
    for (const mode of order) {
      runtimes[mode].cache.clear();
      const out = fresh ? mkdtempSync(join(tmpdir(), 'kg-bench-iso-')) : folders[mode];
      const started = performance.now();
      const events = await collect(
        runtimes[mode].run(doc, { outputFolder: out, allowedFolders: [join(root, 'workflows')], previews: false }),
      );
      if (events.at(-1).type !== 'run:done') throw new Error(`${workflow}: ${JSON.stringify(events.at(-1))}`);
      times[mode].push(performance.now() - started);
    }
  }
  return {
    workflow,
    process: fresh ? 'new every run' : 'reused',
    pairs: WORKFLOW_PAIRS,
    isolatedMs: median(times.isolated),
    inProcessMs: median(times.inProcess),
    ratio: median(times.isolated) / median(times.inProcess),
  };
}

async function startUp() {
  const candidates = (await findPlugins(root)).filter((c) => c.package === '@kinegraph/plugin-color-grade');
  const cacheSetting = process.env.KINEGRAPH_CACHE;
  const withCache = (on, work) => {
    if (on) {
      if (cacheSetting === undefined) delete process.env.KINEGRAPH_CACHE;
      else process.env.KINEGRAPH_CACHE = cacheSetting;
    } else process.env.KINEGRAPH_CACHE = 'off';
    return work();
  };
  // A real start every time: no remembered description.
  const describe = [];
  for (let i = 0; i < STARTS; i++) {
    const started = performance.now();
    const report = await withCache(false, () => loadPlugins(candidates, new NodeRegistry(), { log: () => undefined }));
    describe.push(performance.now() - started);
    if (!report.loaded.length) throw new Error(JSON.stringify(report.failed));
    await report.isolated.close();
  }
  withCache(true, () => undefined);
  const network = (await loadPlugins(candidates, new NodeRegistry(), { log: () => undefined })).loaded[0].isolation
    .network;
  // What a `kinegraph validate` or `nodes` pays: creating a runtime that discovers the project's plugins,
  // with the plugins' descriptions remembered (every start after the first) and without (the first).
  const create = { isolated: [], isolatedCold: [], inProcess: [] };
  for (let i = 0; i < STARTS; i++)
    for (const mode of i % 2 ? ['isolated', 'isolatedCold', 'inProcess'] : ['inProcess', 'isolatedCold', 'isolated']) {
      const started = performance.now();
      const runtime = await withCache(mode !== 'isolatedCold', () =>
        Runtime.create({ discover: { cwd: root, isolate: mode !== 'inProcess' } }),
      );
      create[mode].push(performance.now() - started);
      await runtime.close();
    }
  withCache(true, () => undefined);
  // The parts: what each layer adds to starting Node (spawnSync: start to exit).
  const perm = ['--experimental-permission', '--disable-warning=ExperimentalWarning', `--allow-fs-read=${root}`];
  const variants = {
    node: [process.execPath, ['-e', '0']],
    'node + permission model': [process.execPath, [...perm, '-e', '0']],
  };
  const unshare = spawnSync('unshare', [
    '--user',
    '--map-root-user',
    '--net',
    '--mount',
    '--pid',
    '--fork',
    '--kill-child',
    'true',
  ]);
  if (unshare.status === 0)
    variants['node + permission model + namespaces'] = [
      'unshare',
      [
        '--user',
        '--map-root-user',
        '--net',
        '--mount',
        '--pid',
        '--fork',
        '--kill-child',
        '--',
        '/bin/sh',
        '-c',
        'mount -t tmpfs none /run && exec "$0" "$@"',
        process.execPath,
        ...perm,
        '-e',
        '0',
      ],
    ];
  const parts = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < STARTS; i++)
    for (const [name, [command, args]] of Object.entries(variants)) {
      const started = performance.now();
      spawnSync(command, args, { stdio: 'ignore' });
      parts[name].push(performance.now() - started);
    }
  return {
    network,
    createRuntimeMs: {
      isolated: median(create.isolated),
      isolatedCold: median(create.isolatedCold),
      inProcess: median(create.inProcess),
    },
    describeMs: { median: median(describe), p99: quantile(describe, 0.99) },
    partsMs: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, median(v)])),
  };
}

/** Runs the benchmark and returns a JSON-able summary (also printed as tables unless `quiet`). */
export async function bench({ quiet = false } = {}) {
  const plugins = [{ name: 'bench', nodes: [tick] }];
  const runtimes = {
    isolated: await Runtime.create({ plugins, discover: { cwd: root }, cacheBudgetBytes: 256 * 1024 ** 2 }),
    inProcess: await Runtime.create({
      plugins,
      discover: { cwd: root, isolate: false },
      cacheBudgetBytes: 256 * 1024 ** 2,
    }),
  };
  const result = { perNode: [], workflows: [] };
  try {
    for (const c of CASES) result.perNode.push(await perNode(runtimes, c));
    if (WORKFLOW_PAIRS > 0)
      for (const fresh of [false, true]) for (const c of CASES) result.workflows.push(await whole(runtimes, c, fresh));
  } finally {
    await Promise.all(Object.values(runtimes).map((r) => r.close()));
  }
  result.startUp = await startUp();
  if (!quiet) print(result);
  return result;
}

function print({ perNode, workflows, startUp: s }) {
  const f = (x) => x.toFixed(2);
  console.log(`\nPer plugin node, isolated vs in-process (${perNode[0]?.runs} runs each, interleaved; ms)\n`);
  console.log(
    '| workflow | node | in-process median | isolated median | overhead median | in-process p99 | isolated p99 | overhead p99 |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of perNode)
    console.log(
      `| ${r.workflow} | ${r.node} | ${f(r.inProcessMs.median)} | ${f(r.isolatedMs.median)} | ${f(r.overheadMs.median)} | ${f(r.inProcessMs.p99)} | ${f(r.isolatedMs.p99)} | ${f(r.overheadMs.p99)} |`,
    );
  if (workflows.length) {
    console.log(`\nWhole workflows at saved settings (median of ${workflows[0].pairs} each, alternating; ms)\n`);
    console.log('| workflow | plugin process | in-process | isolated | isolated / in-process |');
    console.log('| --- | --- | ---: | ---: | ---: |');
    for (const r of workflows)
      console.log(
        `| ${r.workflow} | ${r.process} | ${r.inProcessMs.toFixed(0)} | ${r.isolatedMs.toFixed(0)} | ${r.ratio.toFixed(3)} |`,
      );
  }
  console.log(`\nPlugin process start-up (median of ${STARTS}; ms)\n`);
  console.log(`| spawn → color-grade loaded and described | ${f(s.describeMs.median)} (p99 ${f(s.describeMs.p99)}) |`);
  console.log('| --- | ---: |');
  for (const [k, v] of Object.entries(s.partsMs)) console.log(`| start and exit: ${k} | ${f(v)} |`);
  const c = s.createRuntimeMs;
  console.log(`| Runtime.create with discovery, in-process | ${f(c.inProcess)} |`);
  console.log(`| Runtime.create with discovery, isolated (descriptions remembered) | ${f(c.isolated)} |`);
  console.log(`| Runtime.create with discovery, isolated (first start: 2 plugin processes) | ${f(c.isolatedCold)} |`);
  console.log(`\nnetwork: ${s.network.blocked ? 'blocked' : 'OPEN'} (${s.network.how})`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bench();
