import { defineGraph, defineNode, KinegraphError, Type } from '@kinegraph/core/sdk';

/** **Brightness** (`plugin-template/brightness`): makes a video brighter (or darker, with a negative amount). */
export const brightnessNode = defineNode({
  type: 'plugin-template/brightness',
  version: 1,
  title: 'Brightness',
  category: 'color',
  description: 'Adds a constant to every pixel of a video, on the device.',
  params: Type.Object({
    amount: Type.Number({
      default: 0.1,
      minimum: -1,
      maximum: 1,
      description: 'How much brighter: 1 turns everything white, -1 black.',
    }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw new KinegraphError(
        'INVALID_INPUT',
        `Brightness needs an RGB video [B, 3, F, H, W]; got [${tensor.dims.join(', ')}].`,
        { nodeId: context.nodeId, hint: 'Connect a video output.' },
      );
    }
    // `amount` goes in as a JS number: the graph helper uploads it, and frees it after the run.
    const { brightened } = await brightnessGraph.run(context, { video: tensor, amount: params.amount });
    context.progress(1);
    return { video: { kind: 'video', tensor: brightened, fps } };
  },
});

/**
 * The node's math as a small ONNX graph, so it runs in the inference worker on the run's device and the
 * video never comes back into JS. Built on first use and loaded once per tensor store; `amount` is a graph
 * input, not a constant, so one session serves every value.
 */
export const brightnessGraph = defineGraph('plugin-template/brightness', (g) => {
  const video = g.input('video', 'float32', ['B', 3, 'F', 'H', 'W']);
  const amount = g.input('amount', 'float32', []);
  // Videos are in [-1, 1]: an amount in [0, 1] units is twice that, and the result stays in range.
  return { brightened: g.clip(g.add(video, g.mul(amount, 2)), -1, 1) };
});
