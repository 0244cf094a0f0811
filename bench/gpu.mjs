// WebGPU figures, phase by phase, each written as soon as it is measured (one JSON line per result in
// <out>/gpu-results.jsonl), so a run cut short still leaves what it measured. Used by `bench/gpu.sh` on a
// GPU machine and by `npm run bench -- webgpu` (bench/webgpu.mjs) wherever an adapter exists.
//
//   node bench/gpu.mjs --out DIR [--device webgpu] [--steps 8] [--deadline EPOCH_MS] [--phases a,b,...]
//
// Phases: adapter (what `auto` and `webgpu` see), workflows (every shipped workflow: per-step time, bytes to
// JS and GPU<->CPU, live GPU bytes), bare (the same STUNet calls written directly against onnxruntime-node),
// parity (final clip on --device against cpu, max abs diff), placement (ORT's profiler: which execution
// provider ran each graph's nodes).
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createTensorStore, defineNode, definePlugin, Runtime, Type } from '@kinegraph/core';
import * as ort from 'onnxruntime-node';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The checkout: models/ and workflows/ (KINEGRAPH_ROOT when the app is staged elsewhere, as on the GPU machine). */
export const root = process.env.KINEGRAPH_ROOT ?? join(here, '..');
const packDir = join(root, 'models/kinegraph-tiny');

/** Steps of every sampling node (stunet-sample, text-to-image, spatial-super-res). */
function withSteps(doc, steps, { format } = {}) {
  const nodes = Object.fromEntries(
    Object.entries(doc.nodes).map(([id, node]) => {
      const params = { ...node.params };
      if ('steps' in params) params.steps = steps;
      if ('previewEvery' in params) params.previewEvery = 0;
      if (node.type === 'kinegraph/video-encode' && format) params.format = format;
      return [id, { ...node, params }];
    }),
  );
  return { ...doc, nodes };
}

export function workflowNames() {
  return readdirSync(join(root, 'workflows'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

function readWorkflow(name) {
  return JSON.parse(readFileSync(join(root, 'workflows', `${name}.json`), 'utf8'));
}

/** A node that reads the clip it is given into a JS array: the parity phase's stand-in for VideoEncode. */
const captured = new Map();
const capturePlugin = definePlugin(() => ({
  name: 'kinegraph-bench-capture',
  nodes: [
    defineNode({
      type: 'bench/capture',
      version: 1,
      title: 'Capture',
      category: 'bench',
      description: 'Reads the final clip into JS for comparison.',
      params: Type.Object({ key: Type.String() }),
      inputs: { video: { type: 'video' } },
      outputs: {},
      cache: false,
      async run({ params, inputs, context }) {
        captured.set(params.key, {
          dims: inputs.video.tensor.dims,
          data: await context.tensors.read(inputs.video.tensor),
        });
        return {};
      },
    }),
  ],
}));

/** The workflow with its VideoEncode replaced by a capture node on the same input. */
function withCapture(doc, key) {
  const nodes = {};
  for (const [id, node] of Object.entries(doc.nodes)) {
    if (node.type === 'kinegraph/video-encode')
      nodes[id] = { type: 'bench/capture', version: 1, params: { key }, inputs: { video: node.inputs.video } };
    else nodes[id] = node;
  }
  return { ...doc, nodes };
}

async function runOnce(runtime, doc, { previews = false } = {}) {
  const outputFolder = mkdtempSync(join(tmpdir(), 'kg-gpu-'));
  const t0 = performance.now();
  // Subscribed by hand: rxjs is bundled inside @kinegraph/core, and the GPU machine carries no other copy.
  const events = await new Promise((resolve, reject) => {
    const seen = [];
    runtime
      .run(doc, { outputFolder, allowedFolders: [join(root, 'workflows')], previews })
      .subscribe({ next: (e) => seen.push(e), error: reject, complete: () => resolve(seen) });
  });
  const wallMs = performance.now() - t0;
  const end = events.at(-1);
  if (end.type !== 'run:done') throw new Error(JSON.stringify(end.error ?? end).slice(0, 400));
  const nodeMs = Object.fromEntries(events.filter((e) => e.type === 'node:done').map((e) => [e.nodeId, e.ms]));
  return { wallMs, nodeMs };
}

function diffStats(before, after) {
  const keys = ['bytesToJs', 'bytesFromJs', 'bytesGpuToCpu', 'bytesCpuToGpu', 'runs'];
  const d = Object.fromEntries(keys.map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
  // The denoiser: the model with the most milliseconds per call among those called at every step.
  let denoiser = { calls: 0, ms: 0 };
  for (const [id, t] of Object.entries(after.modelTime)) {
    const b = before.modelTime[id] ?? { calls: 0, ms: 0 };
    const calls = t.calls - b.calls;
    const ms = t.ms - b.ms;
    if (calls >= 2 && ms / calls > (denoiser.calls ? denoiser.ms / denoiser.calls : 0)) denoiser = { calls, ms };
  }
  return { ...d, denoiserCalls: denoiser.calls, denoiserMsPerCall: denoiser.calls ? denoiser.ms / denoiser.calls : 0 };
}

/** One JSON line per result; `log` also prints a short line. */
export function recorder(out) {
  mkdirSync(out, { recursive: true });
  const file = join(out, 'gpu-results.jsonl');
  return (record) => {
    appendFileSync(file, `${JSON.stringify({ at: Date.now(), ...record })}\n`);
    console.log(JSON.stringify(record).slice(0, 400));
  };
}

export async function adapterPhase(record, device) {
  for (const request of ['auto', device]) {
    const t0 = performance.now();
    try {
      const store = await createTensorStore({ device: request });
      record({
        phase: 'adapter',
        request,
        device: store.device,
        reason: store.deviceReason,
        adapter: store.adapter ?? null,
        startMs: performance.now() - t0,
      });
      await store.close();
    } catch (error) {
      record({ phase: 'adapter', request, error: String(error.message ?? error) });
    }
  }
}

/**
 * Every workflow in one runtime: a first run at `steps` (sessions, shader compilation), then timed runs at
 * `steps` and at 2·`steps`. On webgpu `session.run` returns once the GPU work is queued, and the wait is paid
 * at the next readback (VideoEncode), so a node's own time says little: the time per step is the difference
 * of the two runs' wall times over the `steps` steps between them.
 */
export async function workflowsPhase(record, { device, steps, deadline, names = workflowNames() }) {
  const runtime = await Runtime.create({ device, discover: { cwd: process.cwd() }, cacheBudgetBytes: 0 });
  const store = await runtime.store();
  for (const name of names) {
    if (Date.now() > deadline) {
      record({ phase: 'workflows', workflow: name, skipped: 'deadline' });
      continue;
    }
    try {
      const doc = withSteps(readWorkflow(name), steps, { format: 'gif' });
      const first = await runOnce(runtime, doc);
      store.resetPeak();
      const before = store.stats();
      const timed = await runOnce(runtime, doc);
      const after = store.stats();
      const d = diffStats(before, after);
      const row = {
        phase: 'workflows',
        device: store.device,
        workflow: name,
        steps,
        firstRunMs: first.wallMs,
        wallMs: timed.wallMs,
        ...d,
        peakLiveMiB: after.peakBytes / 2 ** 20,
        peakGpuMiB: (after.peakGpuBytes ?? 0) / 2 ** 20,
        liveGpuBytesAfter: after.liveGpuBytes ?? 0,
        nodeMs: timed.nodeMs,
      };
      if (Date.now() < deadline) {
        const twice = await runOnce(runtime, withSteps(readWorkflow(name), 2 * steps, { format: 'gif' }));
        row.wallMsAt2x = twice.wallMs;
        row.msPerStep = (twice.wallMs - timed.wallMs) / steps;
      }
      record(row);
    } catch (error) {
      record({ phase: 'workflows', workflow: name, error: String(error.message ?? error).slice(0, 400) });
    }
  }
  await runtime.close();
}

/**
 * Text-to-video's model calls written directly against onnxruntime-node on `device`, as a user would: the
 * text encoder twice, then per step one STUNet call at batch 2 and the guidance + DDIM-like update in JS
 * (outputs come back in CPU memory: reading a GPU output with getData() aborts in onnxruntime-node 1.30).
 */
export async function barePhase(record, { device, steps }) {
  const manifest = JSON.parse(readFileSync(join(packDir, 'manifest.json'), 'utf8'));
  const eps = device === 'webgpu' ? ['webgpu'] : ['cpu'];
  const text = await ort.InferenceSession.create(join(packDir, manifest.models.text_encoder.file), {
    executionProviders: eps,
  });
  const stunet = await ort.InferenceSession.create(join(packDir, manifest.models.stunet.file), {
    executionProviders: eps,
    graphOptimizationLevel: 'all',
  });
  const L = manifest.tokenizer.max_length;
  const ids = new BigInt64Array(2 * L);
  ids.set([2n, 8n, 6n, 4n]);
  const encoded = Object.values(await text.run({ input_ids: new ort.Tensor('int64', ids, [2, L]) }))[0];
  const emb = new ort.Tensor('float32', Float32Array.from(encoded.data), encoded.dims);
  const [F, H, W] = [manifest.frames, ...manifest.resolution.base];
  const n = 3 * F * H * W;
  const x = new Float32Array(n).map((_, i) => Math.sin(i));
  const input = new Float32Array(2 * 7 * F * H * W);
  const loop = async (count) => {
    const t0 = performance.now();
    for (let s = 0; s < count; s++) {
      input.set(x, 0);
      input.set(x, 7 * F * H * W);
      const out = await stunet.run({
        x: new ort.Tensor('float32', input, [2, 7, F, H, W]),
        t: new ort.Tensor('float32', Float32Array.of(999 - s * 40, 999 - s * 40), [2]),
        text_embeddings: emb,
      });
      const v = Object.values(out)[0].data;
      for (let i = 0; i < n; i++) x[i] = 0.98 * x[i] - 0.1 * (v[i + n] + 3 * (v[i] - v[i + n]));
    }
    return (performance.now() - t0) / count;
  };
  await loop(2); // warm-up: shaders, allocations
  const msPerStep = await loop(steps);
  record({ phase: 'bare', device, steps, msPerStep });
  await stunet.release();
  await text.release();
}

/** The final clip of each workflow on `device` and on cpu; max abs diff per value. */
export async function parityPhase(record, { device, steps, deadline, names = workflowNames(), seed }) {
  const runtimes = {};
  for (const d of [device, 'cpu'])
    runtimes[d] = await Runtime.create({
      device: d,
      plugins: [capturePlugin()],
      discover: { cwd: process.cwd() },
      cacheBudgetBytes: 0,
    });
  for (const name of names) {
    if (Date.now() > deadline) {
      record({ phase: 'parity', workflow: name, skipped: 'deadline' });
      continue;
    }
    try {
      let doc = withSteps(readWorkflow(name), steps);
      if (seed !== undefined)
        doc = {
          ...doc,
          nodes: Object.fromEntries(
            Object.entries(doc.nodes).map(([id, n]) => [
              id,
              'seed' in (n.params ?? {}) ? { ...n, params: { ...n.params, seed } } : n,
            ]),
          ),
        };
      for (const d of [device, 'cpu']) await runOnce(runtimes[d], withCapture(doc, `${name}:${d}`));
      const a = captured.get(`${name}:${device}`);
      const b = captured.get(`${name}:cpu`);
      let max = 0;
      for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
      record({ phase: 'parity', device, workflow: name, steps, dims: a.dims, maxAbsDiff: max, values: a.data.length });
    } catch (error) {
      record({ phase: 'parity', workflow: name, error: String(error.message ?? error).slice(0, 400) });
    }
  }
  for (const r of Object.values(runtimes)) await r.close();
}

/** Per workflow, a fresh profiled store: which execution provider ran each graph's nodes. */
export async function placementPhase(record, { device, steps, deadline, names = workflowNames() }) {
  for (const name of names) {
    if (Date.now() > deadline) {
      record({ phase: 'placement', workflow: name, skipped: 'deadline' });
      continue;
    }
    const profileDir = mkdtempSync(join(tmpdir(), 'kg-profile-'));
    const previous = process.env.KINEGRAPH_ORT_PROFILE;
    process.env.KINEGRAPH_ORT_PROFILE = profileDir;
    let runtime;
    try {
      runtime = await Runtime.create({ device, discover: { cwd: process.cwd() }, cacheBudgetBytes: 0 });
      const store = await runtime.store();
      await runOnce(runtime, withSteps(readWorkflow(name), steps, { format: 'gif' }));
      const sessions = await store.placement();
      record({ phase: 'placement', device, workflow: name, sessions });
    } catch (error) {
      record({ phase: 'placement', workflow: name, error: String(error.message ?? error).slice(0, 400) });
    } finally {
      if (previous === undefined) delete process.env.KINEGRAPH_ORT_PROFILE;
      else process.env.KINEGRAPH_ORT_PROFILE = previous;
      await runtime?.close();
    }
  }
}

function parseArgs(argv) {
  const args = { device: 'webgpu', steps: 8, out: join(tmpdir(), 'kg-gpu-bench'), deadline: Infinity };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i].replace(/^--/, ''), argv[i + 1]];
    if (k === 'steps' || k === 'deadline' || k === 'seed') args[k] = Number(v);
    else if (k === 'phases' || k === 'workflows') args[k] = v.split(',');
    else args[k] = v;
  }
  return args;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = parseArgs(process.argv.slice(2));
  const record = recorder(args.out);
  const phases = args.phases ?? ['adapter', 'workflows', 'bare', 'parity', 'placement'];
  const opts = { ...args, ...(args.workflows ? { names: args.workflows } : {}) };
  for (const phase of phases) {
    if (Date.now() > args.deadline) {
      record({ phase, skipped: 'deadline' });
      continue;
    }
    const t0 = Date.now();
    record({ phase: `${phase}:start`, t: t0 });
    try {
      if (phase === 'adapter') await adapterPhase(record, args.device);
      else if (phase === 'workflows') await workflowsPhase(record, opts);
      else if (phase === 'bare') {
        await barePhase(record, opts);
        if (args.device !== 'cpu') await barePhase(record, { ...opts, device: 'cpu' });
      } else if (phase === 'parity') await parityPhase(record, opts);
      else if (phase === 'placement') await placementPhase(record, opts);
      else record({ phase, error: 'unknown phase' });
    } catch (error) {
      record({ phase, error: String(error.stack ?? error).slice(0, 600) });
    }
    record({ phase: `${phase}:end`, t: Date.now(), ms: Date.now() - t0 });
  }
  process.exit(0);
}
