// Per shared workflow, at its saved settings (25 steps): wall time, denoiser calls, time inside the
// models vs total (the runtime's overhead), peak RSS, and bytes copied into JS. Then text-to-video against
// a bare onnxruntime-node script making the same model calls on the same inputs, interleaved.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { lastValueFrom, toArray } from 'rxjs';
import { gaussianNoise, Runtime } from '../packages/core/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const packDir = join(root, 'models/kinegraph-tiny');
const manifest = JSON.parse(readFileSync(join(packDir, 'manifest.json'), 'utf8'));
const REPS = Number(process.env.KG_BENCH_REPS ?? 7);
// KG_BENCH_ONLY=overhead: only the in-process comparison with bare onnxruntime-node (about a minute);
// KG_BENCH_ONLY=cli: only `kinegraph run` end to end against the bare process (about two minutes).
const ONLY_OVERHEAD = process.env.KG_BENCH_ONLY === 'overhead';
const ONLY_CLI = process.env.KG_BENCH_ONLY === 'cli';
const CLI_REPS = Number(process.env.KG_BENCH_CLI_REPS ?? 7);

function peakRss() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

async function modelIds(store) {
  const ids = {};
  for (const role of ['text_encoder', 't2i', 'stunet', 'ssr'])
    ids[role] = (await store.loadModel(join(packDir, manifest.models[role].file))).id;
  return ids;
}

async function runWorkflow(runtime, store, ids, file) {
  const doc = JSON.parse(readFileSync(join(root, 'workflows', file), 'utf8'));
  if (global.gc) global.gc();
  store.resetPeak();
  const before = store.stats();
  const rssBefore = process.memoryUsage().rss;
  const rss = peakRss();
  const t0 = performance.now();
  const events = await lastValueFrom(
    runtime
      .run(doc, { outputFolder: mkdtempSync(join(tmpdir(), 'kg-bench-')), allowedFolders: [join(root, 'workflows')] })
      .pipe(toArray()),
  );
  const wall = performance.now() - t0;
  const peak = rss.stop();
  const end = events.at(-1);
  if (end.type !== 'run:done') throw new Error(`${file}: ${JSON.stringify(end)}`);
  const after = store.stats();
  let modelMs = 0,
    denoiserCalls = 0,
    allModelMs = 0;
  for (const [id, t] of Object.entries(after.modelTime)) {
    const b = before.modelTime[id] ?? { calls: 0, ms: 0 };
    allModelMs += t.ms - b.ms;
    // The pack's models, and the StyleAdapter's interpolated STUNet (a session of its own, so another id,
    // told apart from op graphs by being called at every step and taking tens of milliseconds a call).
    const calls = t.calls - b.calls;
    const isNetwork = Object.values(ids).includes(id) || (calls >= 10 && (t.ms - b.ms) / calls > 25);
    if (isNetwork) {
      modelMs += t.ms - b.ms;
      if (id !== ids.text_encoder) denoiserCalls += t.calls - b.calls;
    }
  }
  return {
    workflow: file.replace('.json', ''),
    wallMs: wall,
    denoiserCalls,
    modelMs,
    opGraphMs: allModelMs - modelMs,
    overheadPct: (100 * (wall - modelMs)) / wall,
    rssBeforeMiB: rssBefore / 2 ** 20,
    peakRssMiB: peak / 2 ** 20,
    // The high-water mark of tensors alive in the store at once (inputs, states, outputs), all nodes together.
    peakLiveTensorsMiB: after.peakBytes / 2 ** 20,
    bytesToJs: after.bytesToJs - before.bytesToJs,
  };
}

/** Text-to-video with bare onnxruntime-node: the same calls (text encoder x2, 25 STUNet calls at batch 2). */
async function bareTextToVideo(sessions, steps, seed) {
  const L = manifest.tokenizer.max_length;
  const ids = new BigInt64Array(2 * L); // prompt ids are irrelevant to timing; [prompt; empty]
  ids.set([2n, 8n, 6n, 4n]);
  const text = await sessions.text.run({ input_ids: new ort.Tensor('int64', ids, [2, L]) });
  const emb = Object.values(text)[0];
  const [F, H, W] = [manifest.frames, ...manifest.resolution.base];
  const n = 3 * F * H * W;
  const x = gaussianNoise(n, seed);
  const cond = new Float32Array(4 * F * H * W);
  const input = new Float32Array(2 * 7 * F * H * W);
  for (let s = 0; s < steps; s++) {
    // [x, cond] on channels, twice on the batch axis, as the STUNet node prepares it.
    input.set(x, 0);
    input.set(cond, n);
    input.set(x, 7 * F * H * W);
    input.set(cond, 7 * F * H * W + n);
    const out = await sessions.stunet.run({
      x: new ort.Tensor('float32', input, [2, 7, F, H, W]),
      t: new ort.Tensor('float32', new Float32Array([999 - s * 40, 999 - s * 40]), [2]),
      text_embeddings: emb,
    });
    const v = Object.values(out)[0].data;
    for (let i = 0; i < n; i++) x[i] = 0.98 * x[i] - 0.1 * (v[i + n] + 3 * (v[i] - v[i + n]));
  }
  return x;
}

/**
 * `kinegraph run workflows/text-to-video.json` as a user types it, in a fresh process each time: wall time
 * of the process, split into start-up (Node, discovery, validation; everything outside the run) and the
 * run's nodes, from the CLI's own NDJSON events.
 */
function cliEndToEnd(reps, { coldCache = false } = {}) {
  const runs = [];
  const bare = [];
  for (let r = 0; r < reps; r++) {
    const out = mkdtempSync(join(tmpdir(), 'kg-bench-cli-'));
    // Cold: an empty disk cache (optimised models, compiled validators), as on the first run on a machine;
    // warm: the user's cache.
    const env = coldCache
      ? { ...process.env, KINEGRAPH_CACHE: mkdtempSync(join(tmpdir(), 'kg-bench-cache-')) }
      : process.env;
    // Interleaved with the same job written directly against onnxruntime-node (bench/bare-t2v.mjs), the
    // order alternating so that neither side always runs after the other.
    const runBare = () => {
      const b0 = performance.now();
      const plain = spawnSync(process.execPath, [join(root, 'bench/bare-t2v.mjs'), join(out, 'bare.mp4')], {
        cwd: root,
        encoding: 'utf8',
      });
      if (plain.status !== 0) throw new Error(`bare-t2v failed: ${plain.stderr.slice(-500)}`);
      bare.push(performance.now() - b0);
    };
    if (r % 2 === 0) runBare();
    const t = performance.now();
    const child = spawnSync(
      process.execPath,
      [
        join(root, 'packages/core/bin/kinegraph.js'),
        'run',
        join(root, 'workflows/text-to-video.json'),
        '--out',
        out,
        '--json',
        '--threads',
        '2',
      ],
      { cwd: root, env, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 },
    );
    const wall = performance.now() - t;
    if (child.status !== 0) throw new Error(`kinegraph run failed: ${child.stderr.slice(-500)}`);
    if (r % 2 === 1) runBare();
    const events = child.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const nodes = Object.fromEntries(events.filter((e) => e.type === 'node:done').map((e) => [e.nodeId, e.ms]));
    const runMs = events.find((e) => e.type === 'run:done')?.ms ?? NaN;
    runs.push({ wallMs: wall, startupMs: wall - runMs, runMs, nodes, pairRatio: wall / bare.at(-1) });
  }
  const pairRatios = runs.map((run) => run.pairRatio).sort((a, b) => a - b);
  const median = [...runs].sort((a, b) => a.wallMs - b.wallMs)[runs.length >> 1];
  const bareMs = [...bare].sort((a, b) => a - b)[bare.length >> 1];
  return { ...median, bareProcessMs: bareMs, ratio: median.wallMs / bareMs, pairRatios };
}

export async function bench({ quiet = false } = {}) {
  if (ONLY_CLI) {
    const cli = cliEndToEnd(CLI_REPS);
    const cliCold = cliEndToEnd(CLI_REPS, { coldCache: true });
    if (!quiet) printCli(cli, cliCold);
    return { cli, cliCold };
  }
  const runtime = await Runtime.create({ discover: { cwd: root }, cacheBudgetBytes: 0, threads: 2 });
  const store = await runtime.store();
  const ids = await modelIds(store);
  const files = readdirSync(join(root, 'workflows'))
    .filter((f) => f.endsWith('.json'))
    .sort();
  // Warm-up: sessions created, graphs built.
  await runWorkflow(runtime, store, ids, 'text-to-video.json');
  const rows = [];
  for (const file of ONLY_OVERHEAD ? [] : files) {
    try {
      rows.push(await runWorkflow(runtime, store, ids, file));
    } catch (error) {
      rows.push({ workflow: file.replace('.json', ''), error: String(error.message ?? error).slice(0, 200) });
    }
  }

  // Overhead vs bare ORT, interleaved: generation only (pack, prompt, sampler nodes), 25 steps.
  const doc = JSON.parse(readFileSync(join(root, 'workflows/text-to-video.json'), 'utf8'));
  const genOnly = {
    ...doc,
    nodes: {
      pack: doc.nodes.pack,
      prompt: doc.nodes.prompt,
      sampler: { ...doc.nodes.sampler, params: { ...doc.nodes.sampler.params, previewEvery: 0 } },
    },
  };
  const opts = { intraOpNumThreads: 2, graphOptimizationLevel: 'all' };
  const sessions = {
    text: await ort.InferenceSession.create(join(packDir, manifest.models.text_encoder.file), opts),
    stunet: await ort.InferenceSession.create(join(packDir, manifest.models.stunet.file), opts),
  };
  const kg = [],
    bare = [];
  // Bytes read into JS while the model nodes hand tensors on (text encoder -> sampler -> its video output),
  // counted by the tensor store; previews off, as under `kinegraph run`. The worst run is reported.
  let bytesBetweenModels = 0;
  const kinegraphOnce = async () => {
    const before = store.stats().bytesToJs;
    const t = performance.now();
    const events = await lastValueFrom(
      runtime.run(genOnly, { outputFolder: tmpdir(), allowedFolders: [], previews: false }).pipe(toArray()),
    );
    if (events.at(-1).type !== 'run:done') throw new Error(JSON.stringify(events.at(-1)));
    kg.push(performance.now() - t);
    bytesBetweenModels = Math.max(bytesBetweenModels, store.stats().bytesToJs - before);
  };
  const bareOnce = async (r) => {
    const t = performance.now();
    await bareTextToVideo(sessions, 25, r);
    bare.push(performance.now() - t);
  };
  // One warm-up of the bare sessions, then the order alternates so neither side always runs first.
  await bareTextToVideo(sessions, 25, 0);
  for (let r = 0; r < REPS; r++) {
    if (r % 2 === 0) {
      await kinegraphOnce();
      await bareOnce(r);
    } else {
      await bareOnce(r);
      await kinegraphOnce();
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const overhead = {
    kinegraphMs: median(kg),
    bareOrtMs: median(bare),
    ratio: median(kg) / median(bare),
    bytesBetweenModels,
  };
  await runtime.close();
  const cli = ONLY_OVERHEAD ? undefined : cliEndToEnd(CLI_REPS);
  const cliCold = ONLY_OVERHEAD ? undefined : cliEndToEnd(CLI_REPS, { coldCache: true });

  if (!quiet) {
    console.log('\nWorkflows at their saved settings (in-process Runtime, cache off, 2 ORT threads)');
    console.log(
      '| workflow | wall s | denoiser calls | in models s | op graphs s | overhead % | peak RSS MiB | bytes to JS |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      if (r.error) console.log(`| ${r.workflow} | failed: ${r.error} |`);
      else
        console.log(
          `| ${r.workflow} | ${(r.wallMs / 1000).toFixed(2)} | ${r.denoiserCalls} | ${(r.modelMs / 1000).toFixed(2)} | ${(r.opGraphMs / 1000).toFixed(2)} | ${r.overheadPct.toFixed(1)} | ${r.peakRssMiB.toFixed(0)} | ${r.bytesToJs} |`,
        );
    }
    console.log(
      '\nMemory: peak RSS of the process (main thread + inference worker) during the run, against the peak sum of',
    );
    console.log('live tensors in the store; RSS before the run holds the runtime, ORT and the sessions loaded so far.');
    console.log('| workflow | RSS before MiB | peak RSS MiB | growth MiB | peak live tensors MiB |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of rows.filter((row) => !row.error && ['text-to-video', 'super-resolution'].includes(row.workflow))) {
      console.log(
        `| ${r.workflow} | ${r.rssBeforeMiB.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${(r.peakRssMiB - r.rssBeforeMiB).toFixed(0)} | ${r.peakLiveTensorsMiB.toFixed(1)} |`,
      );
    }
    console.log(`\ntext-to-video generation (25 steps, CFG batch 2), median of ${REPS}, interleaved`);
    console.log(
      `| Kinegraph ms | bare onnxruntime-node ms | ratio (target <= 1.02) |\n| ---: | ---: | ---: |\n| ${overhead.kinegraphMs.toFixed(0)} | ${overhead.bareOrtMs.toFixed(0)} | ${overhead.ratio.toFixed(3)} |`,
    );
    console.log(
      `bytes copied into JS between the model nodes (text encoder -> STUNet sampler -> video, previews off): ${overhead.bytesBetweenModels} (target 0)`,
    );
    if (!cli || !cliCold) return { workflows: rows, overhead };
    printCli(cli, cliCold);
  }
  return { workflows: rows, overhead, cli, cliCold };
}

function printCli(cli, cliCold) {
  console.log(
    '\n`kinegraph run workflows/text-to-video.json` end to end vs `node bench/bare-t2v.mjs` (the same job on bare',
  );
  console.log(`onnxruntime-node + ffmpeg), fresh processes, saved settings, median of ${CLI_REPS}, interleaved`);
  console.log(
    `| disk cache | kinegraph run ms | bare process ms | ratio (target <= 1.02) | ratio per pair, min / median / max | start-up ms | ${Object.keys(
      cli.nodes,
    )
      .map((n) => `${n} ms`)
      .join(' | ')} |`,
  );
  console.log(
    `| ${['---', '---:', '---:', '---:', '---:', '---:', ...Object.keys(cli.nodes).map(() => '---:')].join(' | ')} |`,
  );
  for (const [label, c] of [
    ['warm', cli],
    ['cold', cliCold],
  ]) {
    const pairs = [c.pairRatios[0], c.pairRatios[c.pairRatios.length >> 1], c.pairRatios.at(-1)]
      .map((x) => x.toFixed(3))
      .join(' / ');
    console.log(
      `| ${label} | ${c.wallMs.toFixed(0)} | ${c.bareProcessMs.toFixed(0)} | ${c.ratio.toFixed(3)} | ${pairs} | ${c.startupMs.toFixed(0)} | ${Object.values(
        c.nodes,
      )
        .map((ms) => ms.toFixed(0))
        .join(' | ')} |`,
    );
  }
  console.log(
    "(warm: ONNX Runtime's optimised STUNet and the compiled validators from ~/.cache/kinegraph, as on every",
  );
  console.log('run after the first; cold: an empty cache, as on the first run on a machine)');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bench();
