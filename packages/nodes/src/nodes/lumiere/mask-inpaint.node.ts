import { defineNode, KinegraphError, type TensorHandle, Type } from '@kinegraph/core/sdk';
import { asPack } from '../../model/pack.js';
import { asPackFacts } from '../../model/pack-facts.js';
import { imageToVideoGraph, maskConditionGraph, maskToVideoGraph } from './condition-graphs.js';
import { expectRank, fitTrailing } from './fit.js';
import { f32 } from './memory.js';

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
  // Everything it makes is held until it returns: the source fitted to the pack's frames and size (an
  // image: resized, then repeated over the frames), the mask repeated over the frames (a still mask) and
  // fitted, then the known video and the keep-mask. On top, the largest call's outputs a second time, for
  // the moment the call returns them.
  memory({ inputs, facts }) {
    const pack = asPackFacts(facts.model);
    const source = inputs.video ?? inputs.image;
    const mask = inputs.mask;
    if (!pack || !source || !mask || (mask.length !== 4 && mask.length !== 5)) return undefined;
    const [height, width] = pack.base;
    const target = [pack.frames, height, width];
    const made: number[] = [];
    const fit = (dims: readonly number[], size: readonly number[]): readonly number[] => {
      const lead = dims.slice(0, dims.length - size.length);
      if (dims.slice(lead.length).every((d, i) => d === size[i])) return dims;
      made.push(f32(...lead, ...size));
      return [...lead, ...size];
    };
    let video: readonly number[];
    if (source.length === 5) video = fit(source, target);
    else {
      const still = fit(source, [height, width]);
      video = [still[0]!, 3, ...target];
      made.push(f32(...video));
    }
    let region: readonly number[] = mask;
    if (mask.length === 4) {
      region = [mask[0]!, 1, pack.frames, mask[2]!, mask[3]!];
      made.push(f32(...region));
    }
    region = fit(region, target);
    // known = video · keep and keep = 1 − region, broadcast over the batch.
    const known = [Math.max(video[0]!, region[0]!), 3, ...target];
    const keep = [region[0]!, region[1]!, ...target];
    made.push(f32(...known) + f32(...keep));
    const largestCall = Math.max(...made);
    const total = made.reduce((n, b) => n + b, 0) + largestCall;
    return { outputs: { conditioning: { dims: known, dtype: 'float32' } }, scratchBytes: total - f32(...known) };
  },
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
