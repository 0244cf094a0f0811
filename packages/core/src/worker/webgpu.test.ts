// The store on the webgpu device: reads of GPU tensors (which aborted the process through onnxruntime-node's
// getData()), transfer counters by direction, live GPU bytes, the adapter report and auto's choice, the WebGPU
// EP workarounds, placement reports, and the device errors without an adapter (the probe's environment is
// made adapter-less with VK_DRIVER_FILES). Where no adapter exists the GPU tests skip, except under CI=true,
// where a missing adapter fails: CI installs Mesa's lavapipe (.ci/run).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildGraph } from '../graph/builder.js';
import { DTYPES } from '../tensor/dtype.js';
import { DeviceUnavailableError } from '../tensor/errors.js';
import type { DType, TensorData } from '../tensor/types.js';
import { expectClose, createTestStore as openStore } from '../testing/index.js';
import type { ManagedTensorStore } from './client.js';

const CI = process.env.CI === 'true';
let gpu: ManagedTensorStore | undefined;
let noAdapter = '';
try {
  gpu = await openStore({ device: 'webgpu' });
} catch (error) {
  noAdapter = (error as Error).message;
}
const cpu = await openStore({ device: 'cpu' });
afterAll(async () => {
  await gpu?.close();
  await cpu.close();
});

/** Runs `fn` with environment variables set for the stores it opens (the device probe inherits them). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('a WebGPU adapter is there when CI=true (CI installs lavapipe; a skip would hide the GPU path)', () => {
  if (CI) expect(noAdapter, 'no WebGPU adapter under CI=true').toBe('');
});

const sample: Record<DType, TensorData> = {
  float32: Float32Array.of(1.5, -2, 3e-8),
  float16: Uint16Array.of(15360, 16384, 0),
  int64: BigInt64Array.of(1n, -2n, 3n),
  int32: Int32Array.of(1, -2, 3),
  uint8: Uint8Array.of(1, 2, 255),
  bool: Uint8Array.of(1, 0, 1),
};

describe.skipIf(gpu === undefined)('on a WebGPU adapter', () => {
  const store = gpu!;

  test('GPU tensors of every dtype read back through the store (no Tensor.getData(), no abort)', async () => {
    const before = store.stats();
    let bytes = 0;
    for (const dtype of DTYPES) {
      const graph = buildGraph(`pass_${dtype}`, (g) => g.output('y', g.input('x', dtype)));
      const model = await store.loadModel(graph.bytes);
      const x = await store.upload(sample[dtype], [3], dtype);
      const { y } = await store.run(model, { x });
      expect(y!.location, dtype).toBe('gpu-buffer');
      expect(Array.from((await store.read(y!)) as ArrayLike<unknown>), dtype).toEqual(
        Array.from(sample[dtype] as ArrayLike<unknown>),
      );
      bytes += sample[dtype].byteLength;
      store.release(x);
      store.release(y!);
    }
    const after = store.stats();
    expect(after.bytesToJs - before.bytesToJs).toBe(bytes);
    expect(after.bytesGpuToCpu - before.bytesGpuToCpu).toBe(bytes);
  });

  test('counts CPU→GPU feeds and live GPU bytes; chained runs stay on the GPU', async () => {
    const axpy = buildGraph('axpy', (g) => {
      const a = g.input('a', 'float32', ['N']);
      const b = g.input('b', 'float32', ['N']);
      g.output('y', g.add(a, g.mul(b, 2)));
    });
    const model = await store.loadModel(axpy.bytes);
    const n = 1000;
    const a = await store.upload(new Float32Array(n).fill(1), [n]);
    const b = await store.upload(new Float32Array(n).fill(2), [n]);
    store.resetPeak();
    const s0 = store.stats();
    const { y } = await store.run(model, { a, b });
    const { y: z } = await store.run(model, { a: y!, b: y! }); // GPU tensors in: nothing crosses
    const s1 = store.stats();
    expect(s1.bytesCpuToGpu - s0.bytesCpuToGpu).toBe(2 * n * 4);
    expect(s1.bytesGpuToCpu - s0.bytesGpuToCpu).toBe(0);
    expect(s1.bytesToJs - s0.bytesToJs).toBe(0);
    expect(s1.liveGpuBytes - s0.liveGpuBytes).toBe(2 * n * 4);
    expectClose((await store.read(z!)) as Float32Array, new Float32Array(n).fill(15));
    for (const h of [a, b, y!, z!]) store.release(h);
    expect(store.stats().liveGpuBytes).toBe(s0.liveGpuBytes);
    expect(store.stats().peakGpuBytes).toBeGreaterThanOrEqual(2 * n * 4);
  });

  test('names the adapter; auto never picks a software adapter over the CPU EP', async () => {
    const adapter = store.adapter;
    expect(adapter, 'the optional webgpu package describes the adapter').toBeDefined();
    expect(typeof adapter!.vendor).toBe('string');
    expect(adapter!.description.length + adapter!.device.length).toBeGreaterThan(0);
    expect(store.deviceReason).toMatch(/^webgpu was requested; adapter: /);
    expect(store.deviceReport()).toMatchObject({ device: 'webgpu', available: ['webgpu', 'cpu'], adapter });
    const auto = await openStore({ device: 'auto' });
    try {
      expect(auto.adapter).toEqual(adapter);
      if (adapter!.software) {
        expect(auto.device).toBe('cpu');
        expect(auto.deviceReason).toMatch(/^auto: chose cpu because the only WebGPU adapter is a software one/);
      } else {
        expect(auto.device).toBe('webgpu');
        expect(auto.deviceReason).toMatch(/^auto: chose webgpu on a hardware adapter/);
      }
    } finally {
      await auto.close();
    }
  });

  test('the WebGPU EP workarounds: a 3×3 Conv on 6 channels and a broadcast computed Pow match cpu', async () => {
    const weights = Float32Array.from({ length: 8 * 6 * 9 }, (_, i) => Math.sin(i) * 0.2);
    const graph = buildGraph('conv6_pow', (g) => {
      const x = g.input('x', 'float32', [2, 6, 8, 8]);
      const gamma = g.input('gamma', 'float32', [8]);
      const w = g.constant(weights, [8, 6, 3, 3]);
      const conv = g.op('Conv', [x, w], { pads: { ints: [1, 1, 1, 1] }, kernel_shape: { ints: [3, 3] } })[0]!;
      const base = g.add(g.abs(conv), 0.1);
      g.output('y', g.pow(base, g.reshape(g.abs(gamma), [1, 8, 1, 1])));
    });
    const x = Float32Array.from({ length: 2 * 6 * 64 }, (_, i) => Math.cos(i * 0.37));
    const gamma = Float32Array.from({ length: 8 }, (_, i) => 0.8 + i * 0.05);
    const results: Float32Array[] = [];
    for (const s of [store, cpu]) {
      const model = await s.loadModel(graph.bytes);
      const hx = await s.upload(x, [2, 6, 8, 8]);
      const hg = await s.upload(gamma, [8]);
      const { y } = await s.run(model, { x: hx, gamma: hg });
      results.push((await s.read(y!)) as Float32Array);
      for (const h of [hx, hg, y!]) s.release(h);
    }
    expectClose(results[0]!, results[1]!, 1e-4);
  });

  test('a profiled store reports which execution provider ran each session', async () => {
    const profiled = await openStore({ device: 'webgpu', profileDir: mkdtempSync(join(tmpdir(), 'kg-prof-')) });
    try {
      const graph = buildGraph('double', (g) => g.output('y', g.mul(g.input('x', 'float32', ['N']), 2)));
      const model = await profiled.loadModel(graph.bytes);
      const x = await profiled.upload(Float32Array.of(1, 2, 3), [3]);
      const { y } = await profiled.run(model, { x });
      await profiled.read(y!);
      const report = await profiled.placement();
      const double = report.find((p) => p.label === 'double')!;
      expect(double).toMatchObject({ runs: 1, gpuToCpuBytes: 0, cpuOps: [] });
      expect(double.nodeRuns.WebGpuExecutionProvider).toBeGreaterThan(0);
      expect(report.find((p) => p.label === 'readback:float32')?.runs).toBe(1);
    } finally {
      await profiled.close();
    }
  });

  test('closing the store with GPU tensors alive and a run queued ends cleanly', async () => {
    const s = await openStore({ device: 'webgpu' });
    const graph = buildGraph('inc', (g) => g.output('y', g.add(g.input('x', 'float32', ['N']), 1)));
    const model = await s.loadModel(graph.bytes);
    const x = await s.upload(new Float32Array(64), [64]);
    const { y } = await s.run(model, { x });
    const pending = s.run(model, { x: y! }).catch((e: unknown) => e);
    await s.close();
    expect(await pending).toMatchObject({ code: 'STORE_CLOSED' });
  });
});

describe('without a usable adapter', () => {
  test('webgpu is a coded error listing cpu; auto falls back to cpu and says why', async () => {
    await withEnv({ VK_DRIVER_FILES: '/nonexistent/icd.json' }, async () => {
      const error = await openStore({ device: 'webgpu' }).then(
        (s) => s.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DeviceUnavailableError);
      expect(error).toMatchObject({ code: 'DEVICE_UNAVAILABLE', requested: 'webgpu', available: ['cpu'] });
      expect((error as Error).message).toMatch(/Available devices: cpu/);
      const auto = await openStore({ device: 'auto' });
      expect(auto.device).toBe('cpu');
      expect(auto.deviceReason).toMatch(/^auto: chose cpu because webgpu is unavailable/);
      await auto.close();
    });
  });

  test('a device probe that crashes is a coded DEVICE_UNAVAILABLE, not the end of this process', async () => {
    const script = join(mkdtempSync(join(tmpdir(), 'kg-probe-')), 'crash.mjs');
    writeFileSync(script, "process.stderr.write('driver exploded\\n'); process.abort();\n");
    await withEnv({ KINEGRAPH_DEVICE_PROBE_SCRIPT: script }, async () => {
      await expect(openStore({ device: 'webgpu' })).rejects.toMatchObject({
        code: 'DEVICE_UNAVAILABLE',
        message: expect.stringMatching(/probing WebGPU crashed: the probe process was killed by SIGABRT/),
      });
    });
  });
});
