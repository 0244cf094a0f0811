import { defineNode, Type } from '@kinegraph/core/sdk';
import { asPack } from '../../model/pack.js';
import { imageConditionGraph } from './condition-graphs.js';
import { expectRank, fitTrailing } from './fit.js';

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
  async run({ inputs, context }) {
    const m = asPack(inputs.model, context.nodeId).manifest;
    expectRank(context, 'The image', inputs.image.tensor, [4], 'Connect an image (LoadImage or TextToImage).');
    const fitted = await fitTrailing(context, inputs.image.tensor, m.resolution.base, 'linear');
    const { video, keep } = await imageConditionGraph(m.frames).run(context, { image: fitted.tensor });
    return { conditioning: { kind: 'conditioning', mode: 'image-to-video', video, mask: keep } };
  },
});
