// Benchmark: per-call overhead of running a model through Kinegraph's inference worker
// (`store.run` on handles: a message round trip, session lookup, handle bookkeeping) against calling
// onnxruntime-node directly on the main thread, on the same graphs and with the same thread count.
//
// Run: `node bench/core-worker.mjs` after `npm run build -w @kinegraph/core`, or through `npm run bench`
// (bench/run.mjs imports `bench()` and collects its result).
//
// Calls are interleaved (worker, direct, direct, worker, …) so that machine load — this box also runs
// a training job — affects both sides alike; medians are reported because load spikes skew means.
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildGraph, createTensorStore } from '../packages/core/dist/index.js';

const THREADS = 1;

/** The graphs compared: a tiny elementwise op (pure overhead) and a 256×256 MatMul chain (real work). */
function graphs() {
  const tiny = buildGraph('tiny-add', (g) => {
    const a = g.input('a', 'float32', ['N']);
    const b = g.input('b', 'float32', ['N']);
    g.output('y', g.add(a, b));
  });
  const n = 256;
  const w = new Float32Array(n * n).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const mid = buildGraph('matmul-chain-256', (g) => {
    let y = g.input('x', 'float32', [n, n]);
    const W = g.constant(w, [n, n]);
    for (let i = 0; i < 4; i++) y = g.matmul(y, W);
    g.output('y', y);
  });
  return [
    {
      name: 'tiny add [16]',
      graph: tiny,
      feeds: { a: new Float32Array(16).fill(1), b: new Float32Array(16).fill(2) },
      dims: [16],
      calls: 1500,
    },
    { name: '4× MatMul 256²', graph: mid, feeds: { x: new Float32Array(n * n).fill(0.01) }, dims: [n, n], calls: 150 },
  ];
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the benchmark and returns a JSON-able summary (also printed as a table unless `quiet`). */
export async function bench({ quiet = false } = {}) {
  const store = await createTensorStore({ device: 'cpu', threads: THREADS });
  const rows = [];
  try {
    for (const c of graphs()) {
      const model = await store.loadModel(c.graph.bytes);
      const handles = {};
      for (const [k, v] of Object.entries(c.feeds)) handles[k] = await store.upload(v, c.dims);
      const session = await ort.InferenceSession.create(c.graph.bytes, {
        intraOpNumThreads: THREADS,
        executionProviders: ['cpu'],
      });
      const direct = Object.fromEntries(
        Object.entries(c.feeds).map(([k, v]) => [k, new ort.Tensor('float32', v, c.dims)]),
      );

      const viaWorker = async () => {
        const t0 = performance.now();
        const out = await store.run(model, handles);
        const dt = performance.now() - t0;
        for (const h of Object.values(out)) store.release(h);
        return dt;
      };
      const inThread = async () => {
        const t0 = performance.now();
        await session.run(direct);
        return performance.now() - t0;
      };

      for (let i = 0; i < Math.min(50, c.calls); i++) {
        await viaWorker();
        await inThread();
      }
      const before = store.stats();
      const w = [];
      const d = [];
      for (let i = 0; i < c.calls; i++) {
        if (i % 2 === 0) {
          w.push(await viaWorker());
          d.push(await inThread());
        } else {
          d.push(await inThread());
          w.push(await viaWorker());
        }
      }
      const after = store.stats();
      const workerUs = median(w) * 1000;
      const directUs = median(d) * 1000;
      rows.push({
        graph: c.name,
        calls: c.calls,
        workerMedianUs: Math.round(workerUs * 10) / 10,
        directMedianUs: Math.round(directUs * 10) / 10,
        overheadUs: Math.round((workerUs - directUs) * 10) / 10,
        ratio: Math.round((workerUs / directUs) * 100) / 100,
        bytesToJsDuringRuns: after.bytesToJs - before.bytesToJs,
      });
      for (const h of Object.values(handles)) store.release(h);
      await session.release();
    }
  } finally {
    await store.close();
  }
  const result = { name: 'core-worker', device: 'cpu', threads: THREADS, node: process.version, rows };
  if (!quiet) {
    console.log(
      `\nstore.run via inference worker vs onnxruntime-node in-thread (cpu, ${THREADS} intra-op thread, median per call)`,
    );
    console.table(
      rows.map((r) => ({
        graph: r.graph,
        calls: r.calls,
        'worker µs': r.workerMedianUs,
        'direct µs': r.directMedianUs,
        'overhead µs': r.overheadUs,
        ratio: r.ratio,
        'bytes→JS': r.bytesToJsDuringRuns,
      })),
    );
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await bench();
}
