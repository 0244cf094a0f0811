// A generation workflow on the webgpu device, end to end in one process (few steps: a software adapter
// needs seconds per STUNet call): tensors stay on the GPU between the model nodes (0 bytes into JS, 0 bytes
// GPU→CPU, counted by the store and, inside ONNX Runtime, by its profiler), the only readback is the one
// VideoEncode asks for, every graph runs on the WebGPU execution provider, and the final clip matches cpu.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defineNode,
  definePlugin,
  type ManagedTensorStore,
  type RunEvent,
  Runtime,
  type SessionPlacement,
  Type,
} from '@kinegraph/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { CI, webgpuProblem } from './webgpu-support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const problem = await webgpuProblem();

it('has a WebGPU adapter under CI=true', () => {
  if (CI) expect(problem, 'CI installs lavapipe: a missing adapter is a failure there').toBe('');
});

// Reads the clip it is given into JS, as VideoEncode does, and keeps it for comparison.
const captured = new Map<string, Float32Array>();
const capture = definePlugin(() => ({
  name: 'webgpu-test',
  nodes: [
    defineNode({
      type: 'webgpu-test/capture',
      version: 1,
      title: 'Capture',
      category: 'test',
      description: 'Reads the final clip into JS.',
      params: Type.Object({ key: Type.String() }),
      inputs: { video: { type: 'video' } },
      outputs: {},
      cache: false,
      async run({ params, inputs, context }) {
        captured.set(params.key, (await context.tensors.read(inputs.video.tensor)) as Float32Array);
        return {};
      },
    }),
  ],
}));

function generation(end: 'none' | 'save' | 'capture', key = '') {
  const nodes: Record<string, unknown> = {
    pack: { type: 'kinegraph/load-model-pack', version: 1, params: { verify: false } },
    prompt: {
      type: 'kinegraph/text-encode',
      version: 1,
      params: { text: 'a red circle moving left on a black background' },
      inputs: { model: { node: 'pack', output: 'model' } },
    },
    sampler: {
      type: 'kinegraph/stunet-sample',
      version: 1,
      params: { steps: 2, seed: 7, previewEvery: 0 },
      inputs: { model: { node: 'pack', output: 'model' }, positive: { node: 'prompt', output: 'embedding' } },
    },
  };
  if (end === 'save')
    nodes.save = {
      type: 'kinegraph/video-encode',
      version: 1,
      params: { format: 'gif', filenamePrefix: 'webgpu', width: 256, height: 256 },
      inputs: { video: { node: 'sampler', output: 'video' } },
    };
  if (end === 'capture')
    nodes.capture = {
      type: 'webgpu-test/capture',
      version: 1,
      params: { key },
      inputs: { video: { node: 'sampler', output: 'video' } },
    };
  return { format: 'kinegraph/workflow@1', nodes };
}

const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const r of runtimes) await r.close();
});

async function open(device: 'webgpu' | 'cpu', profileDir?: string) {
  const saved = process.env.KINEGRAPH_ORT_PROFILE;
  if (profileDir !== undefined) process.env.KINEGRAPH_ORT_PROFILE = profileDir;
  try {
    const runtime = await Runtime.create({
      device,
      discover: { cwd: root },
      plugins: [capture()],
      cacheBudgetBytes: 0,
    });
    runtimes.push(runtime);
    return { runtime, store: (await runtime.store()) as ManagedTensorStore };
  } finally {
    if (saved === undefined) delete process.env.KINEGRAPH_ORT_PROFILE;
    else process.env.KINEGRAPH_ORT_PROFILE = saved;
  }
}

async function run(runtime: Runtime, doc: unknown): Promise<RunEvent[]> {
  const out = mkdtempSync(join(tmpdir(), 'kg-webgpu-'));
  const events = await lastValueFrom(
    runtime.run(doc, { outputFolder: out, allowedFolders: [out], previews: false }).pipe(toArray()),
  );
  expect(events.at(-1), JSON.stringify(events.at(-1))).toMatchObject({ type: 'run:done' });
  return events;
}

/** ORT's own GPU→CPU copies (Memcpy nodes) in every session but the explicit readbacks. */
function hiddenGpuToCpu(placement: readonly SessionPlacement[]): number {
  return placement.filter((p) => !p.label.startsWith('readback:')).reduce((n, p) => n + p.gpuToCpuBytes, 0);
}

describe.skipIf(problem !== '')('a generation workflow on webgpu', () => {
  it('keeps tensors on the GPU between model nodes; the only readback is what VideoEncode reads', async () => {
    const { runtime, store } = await open('webgpu', mkdtempSync(join(tmpdir(), 'kg-webgpu-prof-')));
    const s0 = store.stats();
    await run(runtime, generation('none'));
    const s1 = store.stats();
    // Pack → text encoder → sampler (STUNet and its op graphs): nothing into JS, nothing GPU→CPU.
    expect(s1.bytesToJs - s0.bytesToJs).toBe(0);
    expect(s1.bytesGpuToCpu - s0.bytesGpuToCpu).toBe(0);
    const generationPlacement = await store.placement();
    expect(hiddenGpuToCpu(generationPlacement)).toBe(0);
    // Every graph ran its nodes on the WebGPU execution provider (ORT keeps shape arithmetic on the CPU).
    expect(generationPlacement.length).toBeGreaterThanOrEqual(3);
    for (const p of generationPlacement) expect(p.nodeRuns.WebGpuExecutionProvider ?? 0, p.label).toBeGreaterThan(0);

    // With VideoEncode: exactly its one read of the 256×256 clip crosses, GPU→CPU and into JS.
    const events = await run(runtime, generation('save'));
    const s2 = store.stats();
    const clipBytes = 1 * 3 * 16 * 256 * 256 * 4;
    expect(s2.bytesToJs - s1.bytesToJs).toBe(clipBytes);
    expect(s2.bytesGpuToCpu - s1.bytesGpuToCpu).toBe(clipBytes);
    expect(hiddenGpuToCpu(await store.placement())).toBe(0);
    expect(events.filter((e) => e.type === 'node:done').map((e) => (e as { nodeId: string }).nodeId)).toContain('save');
    // No tensor outlives the run, on the GPU or elsewhere.
    await store.whenIdle();
    expect(store.stats()).toMatchObject({ liveTensors: 0, liveGpuBytes: 0 });
    expect(store.stats().peakGpuBytes).toBeGreaterThan(0);
  }, 300_000);

  it('gives the same final clip as cpu (2 steps, one seed: max abs diff <= 1e-3)', async () => {
    for (const device of ['webgpu', 'cpu'] as const) {
      const { runtime } = await open(device);
      await run(runtime, generation('capture', device));
    }
    const gpu = captured.get('webgpu')!;
    const cpu = captured.get('cpu')!;
    expect(gpu.length).toBe(3 * 16 * 32 * 32);
    let max = 0;
    for (let i = 0; i < gpu.length; i++) max = Math.max(max, Math.abs(gpu[i]! - cpu[i]!));
    expect(max).toBeLessThanOrEqual(1e-3);
  }, 300_000);
});
