// 100 runs of a real generation workflow, each cancelled or failed at a random point: afterwards the
// tensor store holds no tensors and no half-written output file exists.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineNode, type ManagedTensorStore, Runtime, Type } from '@kinegraph/core';
import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';

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

const runtime = await Runtime.create({
  discover: { cwd: root },
  plugins: [{ name: 'battery', nodes: [failLater] }],
  cacheBudgetBytes: 0,
});
const store = (await runtime.store()) as ManagedTensorStore;
const out = await mkdtemp(join(tmpdir(), 'kg-battery-'));
afterAll(() => runtime.close());

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

describe('cancellation and failure battery', () => {
  it('100 runs cancelled or failed at random points leave no tensor and no partial file behind', async () => {
    const outcomes = { done: 0, error: 0, cancelled: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 0, max: 900 }),
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
      { numRuns: 100, seed: 4242 },
    );
    // Let nodes that were abandoned mid-call finish and free what they made.
    await new Promise((r) => setTimeout(r, 300));
    await store.whenIdle();
    expect(store.stats().liveTensors).toBe(0);
    expect((await store.inspectWorker()).tensors).toBe(0);
    const files = await readdir(out);
    expect(files.filter((f) => f.endsWith('.partial') || f.startsWith('.'))).toEqual([]);
    // Both ways of ending early really happened, not just successful runs.
    expect(outcomes.cancelled + outcomes.error).toBeGreaterThan(50);
    expect(outcomes.error).toBeGreaterThan(0);
    expect(outcomes.cancelled).toBeGreaterThan(0);
  }, 600_000);
});
