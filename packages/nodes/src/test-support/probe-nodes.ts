/**
 * Nodes that only tests use: a synthetic video/image source and a capture sink that reads a tensor into
 * JS so a test can look at what an I/O node produced.
 */

import type { AnyNodeDefinition, TensorHandle } from '@kinegraph/core/sdk';
import { defineNode, Type } from '@kinegraph/core/sdk';
import { framesToTensor } from '../media/frames.js';
import { uploadOwned } from '../media/tensor-io.js';
import { squareFrames } from './synthetic.js';

/** What a capture node saw, by its `key` param. */
export interface Captured {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  readonly fps: number | undefined;
  readonly kind: string;
}

/** Values captured by `test/capture` in this process. */
export const captured = new Map<string, Captured>();

const syntheticVideo = defineNode({
  type: 'test/synthetic-video',
  version: 1,
  title: 'Synthetic video',
  category: 'test',
  description: 'A coloured square moving over a flat background, [batch, 3, frames, height, width].',
  params: Type.Object({
    frames: Type.Integer({ default: 8, minimum: 1 }),
    width: Type.Integer({ default: 32, minimum: 1 }),
    height: Type.Integer({ default: 32, minimum: 1 }),
    fps: Type.Number({ default: 10 }),
    batch: Type.Integer({ default: 1, minimum: 1 }),
  }),
  inputs: {},
  outputs: { video: { type: 'video' } },
  async run({ params, context }) {
    const one = framesToTensor(squareFrames(params.frames, params.width, params.height), params.width, params.height);
    const data = new Float32Array(one.data.length * params.batch);
    // Later batch items are darker copies, so a test can tell them apart.
    for (let b = 0; b < params.batch; b++)
      data.set(b === 0 ? one.data : one.data.map((v) => (v + 1) * 0.5 - 1), b * one.data.length);
    const dims = [params.batch, ...one.dims.slice(1)];
    return {
      video: { kind: 'video' as const, tensor: await uploadOwned(context.tensors, data, dims), fps: params.fps },
    };
  },
});

const syntheticImage = defineNode({
  type: 'test/synthetic-image',
  version: 1,
  title: 'Synthetic image',
  category: 'test',
  description: 'Frame 0 of the synthetic video as an image [1, 3, H, W].',
  params: Type.Object({
    width: Type.Integer({ default: 32, minimum: 1 }),
    height: Type.Integer({ default: 32, minimum: 1 }),
  }),
  inputs: {},
  outputs: { image: { type: 'image' } },
  async run({ params, context }) {
    const { data, dims } = framesToTensor(
      squareFrames(1, params.width, params.height),
      params.width,
      params.height,
      true,
    );
    return { image: { kind: 'image' as const, tensor: await uploadOwned(context.tensors, data, dims) } };
  },
});

const capture = defineNode({
  type: 'test/capture',
  version: 1,
  title: 'Capture',
  category: 'test',
  description: 'Reads whichever input is connected into `captured` under its key.',
  params: Type.Object({ key: Type.String({ default: 'out' }) }),
  inputs: {
    video: { type: 'video', optional: true },
    image: { type: 'image', optional: true },
    mask: { type: 'mask', optional: true },
  },
  outputs: {},
  cache: false,
  async run({ params, inputs, context }) {
    const value = inputs.video ?? inputs.image ?? inputs.mask;
    if (!value) throw new Error('capture: nothing connected');
    const tensor: TensorHandle = value.tensor;
    const data = (await context.tensors.read(tensor)) as Float32Array;
    captured.set(params.key, {
      dims: tensor.dims,
      data,
      fps: 'fps' in value ? value.fps : undefined,
      kind: value.kind,
    });
    return {};
  },
});

/** The test-only nodes. */
export const probeNodes: readonly AnyNodeDefinition[] = [syntheticVideo, syntheticImage, capture];
