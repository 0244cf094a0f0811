// `npm run bench -- webgpu`: the webgpu figures wherever a WebGPU adapter exists (see bench/gpu.mjs for the
// phases; bench/gpu.sh runs the same phases on a GPU machine without Node). Per shipped workflow: the final
// clip on webgpu against cpu (max abs diff), time per step on webgpu, bytes into JS and GPU->CPU, peak live
// GPU bytes, and which execution provider ran each graph's nodes. Skipped with a message without an adapter.
//
//   KG_BENCH_WEBGPU_STEPS=2 (default; a software adapter takes seconds per STUNet call)
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTensorStore } from '@kinegraph/core';
import { adapterPhase, parityPhase, placementPhase, recorder, workflowsPhase } from './gpu.mjs';

const STEPS = Number(process.env.KG_BENCH_WEBGPU_STEPS ?? 2);

export async function bench({ quiet = false, explicit = true } = {}) {
  let software = false;
  try {
    const probe = await createTensorStore({ device: 'webgpu' });
    software = probe.adapter?.software ?? true;
    await probe.close();
  } catch (error) {
    if (!quiet) console.log(`\nwebgpu skipped: ${error.message}\n(The README says how to get an adapter.)`);
    return { skipped: String(error.message) };
  }
  // A software adapter (lavapipe) takes seconds per STUNet call: measured only when asked for by name.
  if (software && !explicit) {
    if (!quiet)
      console.log('\nwebgpu skipped: a software adapter; `npm run bench -- webgpu` measures it anyway (~20 min)');
    return { skipped: 'software adapter' };
  }
  const out = mkdtempSync(join(tmpdir(), 'kg-bench-webgpu-'));
  const record = recorder(out);
  const log = console.log;
  if (quiet) console.log = () => undefined;
  try {
    const opts = { device: 'webgpu', steps: STEPS, deadline: Number.POSITIVE_INFINITY };
    await adapterPhase(record, 'webgpu');
    await parityPhase(record, opts);
    await workflowsPhase(record, opts);
    await placementPhase(record, opts);
  } finally {
    console.log = log;
  }
  const rows = readFileSync(join(out, 'gpu-results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  if (!quiet) print(rows);
  return { out, rows };
}

const MiB = (b) => (b / 2 ** 20).toFixed(2);

export function print(rows) {
  const adapter = rows.find((r) => r.phase === 'adapter' && r.request === 'webgpu');
  console.log(`\nAdapter: ${adapter?.reason ?? 'unknown'}`);
  const parity = new Map(rows.filter((r) => r.phase === 'parity').map((r) => [r.workflow, r]));
  console.log(`\nEvery shipped workflow on webgpu, ${STEPS} steps per sampling node, one seed (workflow's own)`);
  console.log(
    '| workflow | max abs diff vs cpu (final clip) | ms per step (wall, 2S vs S steps) | bytes into JS | GPU->CPU bytes | CPU->GPU bytes | peak live GPU MiB |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows.filter((row) => row.phase === 'workflows')) {
    const p = parity.get(r.workflow);
    const diff = p?.maxAbsDiff !== undefined ? p.maxAbsDiff.toExponential(1) : (p?.error ?? 'n/a');
    if (r.error || r.skipped) console.log(`| ${r.workflow} | ${diff} | ${r.error ?? r.skipped} |`);
    else
      console.log(
        `| ${r.workflow} | ${diff} | ${r.msPerStep?.toFixed(0) ?? 'n/a'} | ${r.bytesToJs} | ${r.bytesGpuToCpu} | ${r.bytesCpuToGpu} | ${MiB(r.peakGpuMiB * 2 ** 20)} |`,
      );
  }
  console.log(
    '\nWhere ONNX Runtime ran each graph (node runs per execution provider; CPU ops are the shape arithmetic ORT keeps on the CPU; Memcpy = its own GPU<->CPU copies)',
  );
  console.log(
    '| workflow | graph | runs | WebGPU node runs | CPU node runs | ops on CPU | Memcpy GPU->CPU bytes | Memcpy CPU->GPU bytes |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |');
  for (const r of rows.filter((row) => row.phase === 'placement' && row.sessions)) {
    for (const s of r.sessions)
      console.log(
        `| ${r.workflow} | ${s.label} | ${s.runs} | ${s.nodeRuns.WebGpuExecutionProvider ?? 0} | ${s.nodeRuns.CPUExecutionProvider ?? 0} | ${s.cpuOps.join(' ')} | ${s.gpuToCpuBytes} | ${s.cpuToGpuBytes} |`,
      );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2])
    print(
      readFileSync(process.argv[2], 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    );
  else await bench();
}
