// 100 runs of a real generation workflow, each cancelled or failed at a random point: afterwards the
// tensor store holds no tensors and no half-written output file exists. On webgpu too (fewer runs, over a
// longer span: a software adapter takes seconds per STUNet call), where freed tensors are GPU buffers.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineNode, type ManagedTensorStore, Runtime, Type } from '@kinegraph/core';
import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { CI, webgpuProblem } from '../webgpu-support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

// Fails after a given delay, while the sampler branch is busy making tensors.
const failLater = defineNode({
  type: 'battery/fail-later',
  version: 1,
  title: 'Fail later',
  category: 'test',
  description: 'Throws after `ms`.',
  params: Type.Object({ ms: Type.Integer({ minimum: 0, default: 0 }) }),
  inputs: { video: { type: 'video', optional: true } },
  outputs: {},
  async run({ params }) {
    await new Promise((r) => setTimeout(r, params.ms));
    throw new Error('injected failure');
  },
});

const webgpu = await webgpuProblem();
const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const r of runtimes) await r.close();
});

function workflow(failAfterMs: number | undefined, format: 'gif' | 'png') {
  return {
    format: 'kinegraph/workflow@1',
    nodes: {
      pack: { type: 'kinegraph/load-model-pack', version: 1, params: { verify: false } },
      prompt: {
        type: 'kinegraph/text-encode',
        version: 1,
        params: { text: 'a red circle moving left' },
        inputs: { model: { node: 'pack', output: 'model' } },
      },
      sampler: {
        type: 'kinegraph/stunet-sample',
        version: 1,
        params: { steps: 2, previewEvery: 1 },
        inputs: { model: { node: 'pack', output: 'model' }, positive: { node: 'prompt', output: 'embedding' } },
      },
      big: {
        type: 'kinegraph/resize-video',
        version: 1,
        params: { width: 128, height: 128, mode: 'nearest' },
        inputs: { video: { node: 'sampler', output: 'video' } },
      },
      save: {
        type: 'kinegraph/video-encode',
        version: 1,
        params: { format, filenamePrefix: 'battery' },
        inputs: { video: { node: 'big', output: 'video' } },
      },
      ...(failAfterMs !== undefined
        ? { fail: { type: 'battery/fail-later', version: 1, params: { ms: failAfterMs } } }
        : {}),
    },
  };
}

/** `numRuns` runs cancelled or failed after 0–`maxMs` ms; then no tensor and no partial file is left. */
async function battery(device: 'cpu' | 'webgpu', numRuns: number, maxMs: number): Promise<void> {
  const runtime = await Runtime.create({
    device,
    discover: { cwd: root },
    plugins: [{ name: 'battery', nodes: [failLater] }],
    cacheBudgetBytes: 0,
  });
  runtimes.push(runtime);
  const store = (await runtime.store()) as ManagedTensorStore;
  const out = await mkdtemp(join(tmpdir(), 'kg-battery-'));
  const outcomes = { done: 0, error: 0, cancelled: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.integer({ min: 0, max: maxMs }),
      fc.constantFrom('gif' as const, 'png' as const),
      async (cancel, ms, format) => {
        const controller = new AbortController();
        const timer = cancel ? setTimeout(() => controller.abort(), ms) : undefined;
        const events = await lastValueFrom(
          runtime
            .run(workflow(cancel ? undefined : ms, format), {
              outputFolder: out,
              allowedFolders: [out],
              signal: controller.signal,
            })
            .pipe(toArray()),
        );
        clearTimeout(timer);
        const end = events.at(-1)!.type;
        expect(['run:done', 'run:error', 'run:cancelled']).toContain(end);
        outcomes[end === 'run:done' ? 'done' : end === 'run:error' ? 'error' : 'cancelled']++;
      },
    ),
    { numRuns, seed: 4242 },
  );
  // Let nodes that were abandoned mid-call finish and free what they made.
  await new Promise((r) => setTimeout(r, 300));
  await store.whenIdle();
  expect(store.stats().liveTensors).toBe(0);
  expect(store.stats().liveGpuBytes).toBe(0);
  expect((await store.inspectWorker()).tensors).toBe(0);
  const files = await readdir(out);
  expect(files.filter((f) => f.endsWith('.partial') || f.startsWith('.'))).toEqual([]);
  // Both ways of ending early really happened, not just successful runs.
  expect(outcomes.cancelled + outcomes.error).toBeGreaterThan(numRuns / 2);
  expect(outcomes.error).toBeGreaterThan(0);
  expect(outcomes.cancelled).toBeGreaterThan(0);
}

describe('cancellation and failure battery', () => {
  it('100 runs cancelled or failed at random points leave no tensor and no partial file behind', async () => {
    await battery('cpu', 100, 900);
  }, 600_000);

  it.skipIf(webgpu !== '' && !CI)(
    'on webgpu: 8 runs cancelled or failed at random points leave no GPU tensor behind',
    async () => {
      expect(webgpu, 'CI installs lavapipe: a missing WebGPU adapter is a failure there').toBe('');
      await battery('webgpu', 8, 12_000);
    },
    600_000,
  );
});
