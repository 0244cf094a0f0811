import { defineNode, Type } from '@kinegraph/core/sdk';
import { asPack } from '../../model/pack.js';
import { asPackFacts } from '../../model/pack-facts.js';
import { imageConditionGraph } from './condition-graphs.js';
import { expectRank, fitTrailing } from './fit.js';
import { f32 } from './memory.js';

/**
 * ImageCondition: an image → the conditioning for image-to-video: the first frame is known (the image,
 * resized to the pack's resolution), the rest is generated. Feed it to STUNetSample's `conditioning`.
 */
export const imageConditionNode = defineNode({
  type: 'kinegraph/image-condition',
  version: 1,
  title: 'Image Condition',
  category: 'conditioning',
  description: 'Image-to-video: makes the image the known first frame of the clip.',
  params: Type.Object({}),
  inputs: { model: { type: 'model' }, image: { type: 'image' } },
  outputs: { conditioning: { type: 'conditioning' } },
  // The image resized to the pack's size (when it differs), then the conditioning video [B, 3, F, H, W]
  // and its keep-mask [B, 1, F, H, W], both twice for a moment while the graph returns them.
  memory({ inputs, facts }) {
    const pack = asPackFacts(facts.model);
    const image = inputs.image;
    if (!pack || image?.length !== 4) return undefined;
    const [batch, channels, h, w] = image as [number, number, number, number];
    const [height, width] = pack.base;
    const fitted = h === height && w === width ? 0 : f32(batch, channels, height, width);
    const video = [batch, 3, pack.frames, height, width];
    const keep = f32(batch, 1, pack.frames, height, width);
    return {
      outputs: { conditioning: { dims: video, dtype: 'float32' } },
      scratchBytes: fitted + f32(...video) + 2 * keep,
    };
  },
  async run({ inputs, context }) {
    const m = asPack(inputs.model, context.nodeId).manifest;
    expectRank(context, 'The image', inputs.image.tensor, [4], 'Connect an image (LoadImage or TextToImage).');
    const fitted = await fitTrailing(context, inputs.image.tensor, m.resolution.base, 'linear');
    const { video, keep } = await imageConditionGraph(m.frames).run(context, { image: fitted.tensor });
    return { conditioning: { kind: 'conditioning', mode: 'image-to-video', video, mask: keep } };
  },
});
