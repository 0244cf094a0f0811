import { defineNode, Type } from '@kinegraph/core/sdk';
import { mediaError } from '../../media/errors.js';
import { tensorToFrames } from '../../media/frames.js';
import { nextOutputStem, SAFE_PREFIX_PATTERN } from '../../media/output-names.js';
import { encodePng } from '../../media/png.js';
import { readFloat32 } from '../../media/tensor-io.js';
import { WORKFLOW_KEY, workflowToAscii } from '../../media/workflow-text.js';

/**
 * **Save Image** (`kinegraph/save-image`): writes an `image` as a PNG into the run's output folder, with
 * the workflow in a tEXt chunk (`kinegraph-workflow`) so the picture can be dropped on the editor to get
 * its graph back. Use it for stills: a generated first frame, a keyframe, a style reference.
 *
 * Named `<prefix>_00001.png` (numbered past existing files), written atomically. A batch writes one file
 * per image; `path` is the first.
 */
export const saveImageNode = defineNode({
  type: 'kinegraph/save-image',
  version: 1,
  title: 'Save Image',
  category: 'io/image',
  description: 'Saves an image as PNG with the workflow embedded in a text chunk.',
  params: Type.Object({
    filenamePrefix: Type.String({
      default: 'kinegraph',
      pattern: SAFE_PREFIX_PATTERN,
      description: 'Start of the file name: letters, digits, ".", "_", "-".',
    }),
    embedWorkflow: Type.Boolean({
      default: true,
      description: 'Store the workflow in the PNG so it can be loaded back from the image.',
    }),
  }),
  inputs: { image: { type: 'image' } },
  outputs: { path: { type: 'text', description: 'The written PNG (the first one for a batch).' } },
  // Writing the file is the point: never skip it from the cache.
  cache: false,
  // The image read back into JS, then per batch item its RGBA pixels and the encoded PNG.
  memory({ inputs }) {
    const d = inputs.image;
    if (d?.length !== 4) return undefined;
    const [, , h, w] = d as [number, number, number, number];
    return { outputs: {}, scratchBytes: d.reduce((n, x) => n * x, 4) + 2 * h * w * 4 };
  },
  async run({ params, inputs, context }) {
    const { dims } = inputs.image.tensor;
    if (dims.length !== 4 || dims[1] !== 3) {
      throw mediaError(
        'INVALID_INPUT',
        `Save Image needs an image tensor [B, 3, H, W]; got [${dims.join(', ')}].`,
        'Connect an image output; save videos with Video Encode.',
        context.nodeId,
      );
    }
    const text = params.embedWorkflow ? { [WORKFLOW_KEY]: workflowToAscii(context.workflow) } : undefined;
    const data = await readFloat32(context.tensors, inputs.image.tensor);
    const paths: string[] = [];
    for (let b = 0; b < dims[0]!; b++) {
      const [frame] = tensorToFrames(data, dims, b);
      const stem = await nextOutputStem(context.files.outputFolder, params.filenamePrefix);
      paths.push(await context.files.writeOutput(`${stem}.png`, encodePng(frame!, text)));
    }
    return { path: paths[0]! };
  },
});
