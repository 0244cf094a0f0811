import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineNode, KinegraphError, readOnnxInitializers, type TensorData, Type } from '@kinegraph/core/sdk';
import { asPack, type PackValue } from '../../model/pack.js';
import { readSafetensors } from '../../model/safetensors.js';

/**
 * StyleAdapter: blends a style into the STUNet's spatial layers, `W = (1-α)·W_base + α·W_style`, the
 * paper's stylized generation from interpolated fine-tuned weights. α = 0 is the base model, 1 the full
 * style. The style comes from the pack (by name) or from a `.safetensors` file of STUNet initializers.
 */
export const styleAdapterNode = defineNode({
  type: 'kinegraph/style-adapter',
  version: 1,
  title: 'Style Adapter',
  category: 'model',
  description: 'Stylized generation: interpolates the STUNet\u2019s spatial weights towards a style.',
  params: Type.Object({
    style: Type.String({
      default: '',
      maxLength: 200,
      description: 'A style the pack ships (empty: its first style).',
    }),
    alpha: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.7,
      description: 'How much of the style: 0 = none, 1 = all.',
    }),
    file: Type.String({
      default: '',
      maxLength: 4096,
      description: 'Optional .safetensors style file (inside the allowed folders) instead of a pack style.',
    }),
  }),
  inputs: { model: { type: 'model' } },
  outputs: { model: { type: 'model' } },
  // No tensors. The blend is model weights (read and mixed in JS: about three times the STUNet file for a
  // moment), which like the sessions made from them live outside the run's budget: their size is the
  // installed pack's, not the workflow's. The pack's sizes pass through for the nodes that sample with it.
  memory({ facts }) {
    return { outputs: {}, scratchBytes: 0, ...(facts.model !== undefined ? { facts: { model: facts.model } } : {}) };
  },
  async run({ params, inputs, context }) {
    const pack = asPack(inputs.model, context.nodeId);
    const { name, bytes, fileName } = await styleSource(pack, params.style, params.file, context);
    if (params.alpha === 0) return { model: { ...pack, style: { name, alpha: 0 } } };
    const style = readSafetensors(bytes, fileName);
    const stunetPath = join(pack.dir, pack.manifest.models.stunet.file);
    const base = readOnnxInitializers(new Uint8Array(await readFile(stunetPath)), Object.keys(style));
    const overrides: Record<string, TensorData> = {};
    for (const [key, target] of Object.entries(style)) {
      const from = base[key]!;
      if (from.data.length !== target.data.length) {
        throw new KinegraphError(
          'STYLE_FILE_INVALID',
          `${fileName}: "${key}" has ${target.data.length} values, the STUNet\u2019s has ${from.data.length}.`,
          {
            nodeId: context.nodeId,
            hint: 'The style was made for another model; use a style exported with this pack.',
          },
        );
      }
      const mixed = new Float32Array(from.data.length);
      const a = params.alpha;
      for (let i = 0; i < mixed.length; i++) mixed[i] = (1 - a) * from.data[i]! + a * target.data[i]!;
      overrides[key] = mixed;
    }
    context.progress(1, { message: `${name} at \u03b1=${params.alpha}` });
    // The sampler creates the session from these options (with its update step appended); the store pools
    // sessions by the overrides' hash, so the same α reuses its session.
    return {
      model: {
        ...pack,
        stunet: { path: stunetPath, options: { initializerOverrides: overrides } },
        style: { name, alpha: params.alpha },
      },
    };
  },
});

async function styleSource(
  pack: PackValue,
  style: string,
  file: string,
  context: { nodeId: string; files: { read(path: string): Promise<Uint8Array> } },
): Promise<{ name: string; bytes: Uint8Array; fileName: string }> {
  if (file) return { name: file, bytes: await context.files.read(file), fileName: file };
  const styles = pack.manifest.styles ?? [];
  const chosen = style ? styles.find((s) => s.name === style) : styles[0];
  if (!chosen) {
    throw new KinegraphError(
      'STYLE_UNKNOWN',
      style ? `Model pack "${pack.name}" has no style "${style}".` : `Model pack "${pack.name}" ships no styles.`,
      {
        nodeId: context.nodeId,
        hint: styles.length
          ? `Styles of this pack: ${styles.map((s) => s.name).join(', ')}.`
          : 'Give a style weights file with the "file" param, or train one (make -C training).',
      },
    );
  }
  const path = join(pack.dir, chosen.file);
  return { name: chosen.name, bytes: new Uint8Array(await readFile(path)), fileName: path };
}
