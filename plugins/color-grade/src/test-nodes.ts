/**
 * Test-only nodes (never exported from the plugin): a source that uploads a video a test made in JS, and a
 * capture sink that reads a node's output back into JS. With them a test runs a real workflow through
 * `Runtime` — validation, migration, scheduling, tensor ownership — and looks at the numbers.
 */

import type { Runtime, SerializedError } from '@kinegraph/core';
import type { AnyNodeDefinition } from '@kinegraph/core/sdk';
import { defineNode, Type } from '@kinegraph/core/sdk';

/** A video made in JS: float32 data [B, 3, F, H, W] in [-1, 1]. */
export interface TestVideo {
  readonly data: Float32Array;
  readonly dims: readonly [number, number, number, number, number];
  readonly fps: number;
}

/** Videos `test/source` uploads, by its `key` param. */
export const sources = new Map<string, TestVideo>();
/** Videos `test/capture` read back, by its `key` param. */
export const captured = new Map<string, TestVideo>();

const source = defineNode({
  type: 'test/source',
  version: 1,
  title: 'Test source',
  category: 'test',
  description: 'Uploads the video registered in `sources` under `key`.',
  params: Type.Object({ key: Type.String() }),
  inputs: {},
  outputs: { video: { type: 'video' } },
  cache: false, // the data behind a key can change between runs
  async run({ params, context }) {
    const video = sources.get(params.key);
    if (!video) throw new Error(`test/source: no video under "${params.key}"`);
    return {
      video: { kind: 'video' as const, tensor: await context.tensors.upload(video.data, video.dims), fps: video.fps },
    };
  },
});

const capture = defineNode({
  type: 'test/capture',
  version: 1,
  title: 'Capture',
  category: 'test',
  description: 'Reads its input video into `captured` under `key`.',
  params: Type.Object({ key: Type.String({ default: 'out' }) }),
  inputs: { video: { type: 'video' } },
  outputs: {},
  cache: false,
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    const data = (await context.tensors.read(tensor)) as Float32Array;
    captured.set(params.key, { data, dims: tensor.dims as TestVideo['dims'], fps });
    return {};
  },
});

/** The test-only node types, to register next to the plugin's own in a test Runtime. */
export const testNodes: readonly AnyNodeDefinition[] = [source, capture];

/** A smooth synthetic clip: every pixel a different colour, changing over time, covering [-1, 1]. */
export function gradientVideo(frames: number, height: number, width: number, batch = 1): TestVideo {
  const data = new Float32Array(batch * 3 * frames * height * width);
  let i = 0;
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < 3; c++)
      for (let f = 0; f < frames; f++)
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) {
            const t =
              (x / Math.max(1, width - 1)) * (c === 0 ? 1 : 0.3) +
              (y / Math.max(1, height - 1)) * (c === 1 ? 1 : 0.3) +
              (f / Math.max(1, frames - 1)) * (c === 2 ? 1 : 0.2) +
              b * 0.1;
            data[i++] = Math.sin(t * 2.3 + c) * 0.999;
          }
  return { data, dims: [batch, 3, frames, height, width], fps: 12 };
}

/** A run's terminal event, loosely typed (enough for assertions). */
export interface RunEnd {
  readonly type: string;
  readonly error?: SerializedError;
  readonly events: ReadonlyArray<{ type: string; nodeId?: string; [key: string]: unknown }>;
}

/**
 * Runs a workflow made of `nodes` and resolves with its last event and all events. Subscribes by hand:
 * rxjs is core's dependency, not the plugin's.
 */
export function runNodes(
  runtime: Runtime,
  nodes: Record<string, unknown>,
  folders: { out: string; allowed?: readonly string[] },
): Promise<RunEnd> {
  return new Promise((resolve, reject) => {
    const events: Array<{ type: string; nodeId?: string; [key: string]: unknown }> = [];
    runtime
      .run(
        { format: 'kinegraph/workflow@1', nodes },
        { outputFolder: folders.out, allowedFolders: folders.allowed ?? [], concurrency: 1 },
      )
      .subscribe({
        next: (event) => events.push(event as unknown as (typeof events)[number]),
        error: reject,
        complete: () => {
          const end = events.at(-1)!;
          resolve({ type: end.type, events, ...(end.error ? { error: end.error as SerializedError } : {}) });
        },
      });
  });
}

/** Frees cached outputs, waits for the worker to settle, and returns how many tensors are still alive. */
export async function liveTensorsAfterClear(runtime: Runtime): Promise<number> {
  runtime.cache.clear();
  const store = (await runtime.store()) as Awaited<ReturnType<Runtime['store']>> & { whenIdle?: () => Promise<void> };
  await store.whenIdle?.();
  return store.stats().liveTensors;
}
