import { defineNode, KinegraphError, type TensorHandle, Type } from '@kinegraph/core/sdk';
import { asPack } from '../../model/pack.js';
import { imageToVideoGraph, maskConditionGraph, maskToVideoGraph } from './condition-graphs.js';
import { expectRank, fitTrailing } from './fit.js';

/**
 * MaskInpaint: a source (video, or an image held still) and a mask → conditioning for STUNetSample.
 * `inpaint` regenerates what is inside the mask and keeps the rest; `cinemagraph` animates only inside the
 * mask while everything outside stays the source's first frame.
 */
export const maskInpaintNode = defineNode({
  type: 'kinegraph/mask-inpaint',
  version: 1,
  title: 'Mask Inpaint / Cinemagraph',
  category: 'conditioning',
  description: 'Video inpainting, or a cinemagraph (animate only the masked region).',
  params: Type.Object({
    mode: Type.Union([Type.Literal('inpaint'), Type.Literal('cinemagraph')], {
      default: 'inpaint',
      description: 'inpaint: regenerate inside the mask; cinemagraph: animate only inside it.',
    }),
  }),
  inputs: {
    model: { type: 'model' },
    mask: { type: 'mask', description: '1 marks the region to regenerate (inpaint) or animate (cinemagraph).' },
    video: { type: 'video', optional: true },
    image: { type: 'image', optional: true, description: 'A still source instead of a video.' },
  },
  outputs: { conditioning: { type: 'conditioning' } },
  async run({ params, inputs, context }) {
    const m = asPack(inputs.model, context.nodeId).manifest;
    const [h, w] = m.resolution.base;
    const frames = m.frames;
    if (!inputs.video === !inputs.image) {
      throw new KinegraphError(
        'INPUT_CHOICE',
        inputs.video ? 'Connect either a video or an image, not both.' : 'Connect a video or an image as the source.',
        {
          nodeId: context.nodeId,
          hint: 'The source is what stays known: a video (inpaint, cinemagraph) or an image (cinemagraph from a photo).',
        },
      );
    }
    let source: TensorHandle;
    if (inputs.video) {
      expectRank(context, 'The video', inputs.video.tensor, [5], 'Connect a video (LoadVideo or STUNetSample).');
      source = (await fitTrailing(context, inputs.video.tensor, [frames, h, w], 'linear')).tensor;
    } else {
      expectRank(context, 'The image', inputs.image!.tensor, [4], 'Connect an image.');
      const still = (await fitTrailing(context, inputs.image!.tensor, [h, w], 'linear')).tensor;
      source = (await imageToVideoGraph(frames).run(context, { image: still })).out;
    }
    const mask = inputs.mask.tensor;
    expectRank(context, 'The mask', mask, [4, 5], 'Connect a mask (MaskRect, LoadMask, MaskFromColor).');
    const region5 = mask.dims.length === 5 ? mask : (await maskToVideoGraph(frames).run(context, { mask })).out;
    const region = (await fitTrailing(context, region5, [frames, h, w], 'nearest')).tensor;
    const { known, keep } = await maskConditionGraph(params.mode).run(context, { source, region });
    return { conditioning: { kind: 'conditioning', mode: params.mode, video: known, mask: keep } };
  },
});
