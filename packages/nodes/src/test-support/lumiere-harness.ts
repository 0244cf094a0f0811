// Runs workflows of the built-in nodes in a real Runtime and captures tensors they produce, for tests.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AnyNodeDefinition, type RunEvent, Runtime } from '@kinegraph/core';
import { lastValueFrom, toArray } from 'rxjs';

export interface Captured {
  dims: number[];
  data: Float32Array;
}

/** Tensors captured by `test/capture` nodes, by node id. */
export const captured = new Map<string, Captured>();

const capture = {
  type: 'test/capture',
  version: 1,
  title: 'Capture',
  category: 'test',
  description: 'Reads a video, image, embedding or conditioning tensor into the test.',
  params: { type: 'object', properties: { part: { type: 'string', default: 'tensor' } } },
  inputs: {
    video: { type: 'video', optional: true },
    image: { type: 'image', optional: true },
    embedding: { type: 'embedding', optional: true },
    conditioning: { type: 'conditioning', optional: true },
  },
  outputs: {},
  async run({
    params,
    inputs,
    context,
  }: {
    params: { part: string };
    inputs: Record<string, Record<string, unknown> | undefined>;
    context: { nodeId: string; tensors: { read(h: unknown): Promise<unknown> } };
  }) {
    const value = inputs.video ?? inputs.image ?? inputs.embedding ?? inputs.conditioning;
    const handle = value?.[params.part] as { dims: number[] };
    captured.set(context.nodeId, {
      dims: [...handle.dims],
      data: (await context.tensors.read(handle)) as Float32Array,
    });
    return {};
  },
} as unknown as AnyNodeDefinition;

// A rectangle mask [1,1,F,H,W] (1 inside), made in the test so these tests do not depend on the I/O nodes.
const rectMask = {
  type: 'test/rect-mask',
  version: 1,
  title: 'Rect mask',
  category: 'test',
  description: 'A rectangle mask.',
  params: {
    type: 'object',
    properties: {
      x0: { type: 'integer', default: 8 },
      y0: { type: 'integer', default: 8 },
      x1: { type: 'integer', default: 24 },
      y1: { type: 'integer', default: 24 },
    },
  },
  inputs: {},
  outputs: { mask: { type: 'mask' } },
  async run({
    params,
    context,
  }: {
    params: Record<string, number>;
    context: { tensors: { upload(d: Float32Array, dims: number[]): Promise<unknown> } };
  }) {
    const [f, hh, ww] = [16, 32, 32];
    const data = new Float32Array(f * hh * ww);
    for (let t = 0; t < f; t++)
      for (let y = params.y0!; y < params.y1!; y++)
        for (let x = params.x0!; x < params.x1!; x++) data[t * hh * ww + y * ww + x] = 1;
    return { mask: { kind: 'mask', tensor: await context.tensors.upload(data, [1, 1, f, hh, ww]) } };
  },
} as unknown as AnyNodeDefinition;

export async function harness(nodes: AnyNodeDefinition[]) {
  const runtime = await Runtime.create({
    plugins: [{ name: 'under-test', nodes: [...nodes, capture, rectMask] }],
    cacheBudgetBytes: 0,
  });
  const out = await mkdtemp(join(tmpdir(), 'kg-lumiere-'));
  return {
    runtime,
    out,
    async run(nodesOfWorkflow: Record<string, unknown>, options: { previews?: boolean } = {}): Promise<RunEvent[]> {
      return lastValueFrom(
        runtime
          .run(
            { format: 'kinegraph/workflow@1', nodes: nodesOfWorkflow },
            { outputFolder: out, allowedFolders: [out], ...options },
          )
          .pipe(toArray()),
      );
    },
    close: () => runtime.close(),
  };
}

/** Shorthand for an edge. */
export const from = (node: string, output: string) => ({ node, output });

/** The error of a failed run, or undefined. */
export function runError(events: RunEvent[]) {
  const end = events.at(-1);
  return end?.type === 'run:error' ? end.error : undefined;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
