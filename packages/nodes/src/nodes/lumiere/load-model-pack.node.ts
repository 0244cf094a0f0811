import { defineNode, Type } from '@kinegraph/core/sdk';
import { findPack, loadPack, packFingerprint } from '../../model/pack.js';
import { packFactsByName } from '../../model/pack-facts.js';

/**
 * LoadModelPack: loads a model pack (ONNX models, tokenizer and manifest) for the sampling nodes. Use it at
 * the start of every generation workflow; the default is the shipped `kinegraph-tiny` pack. Files are
 * checked against the manifest's sha256, so a damaged or mismatched file is named instead of producing
 * garbage.
 */
export const loadModelPackNode = defineNode({
  type: 'kinegraph/load-model-pack',
  version: 1,
  title: 'Load Model Pack',
  category: 'loaders',
  description: 'Loads a model pack (text encoder, T2I U-Net, STUNet, super-resolution) by name.',
  params: Type.Object({
    pack: Type.String({
      default: 'kinegraph-tiny',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      description: 'Pack name: a folder in models/ or $KINEGRAPH_MODELS.',
    }),
    verify: Type.Boolean({ default: true, description: 'Check every file against the manifest\u2019s sha256.' }),
  }),
  inputs: {},
  outputs: { model: { type: 'model' } },
  // No tensors: the weights live in ONNX Runtime's sessions, outside the run's budget. What it declares is
  // the pack's sizes (frames, resolution, text embedding), read from the manifest before anything loads, so
  // the nodes that sample with it can size what they make.
  memory({ params }) {
    const facts = packFactsByName(params.pack);
    return { outputs: {}, scratchBytes: 0, ...(facts ? { facts: { model: facts } } : {}) };
  },
  async fingerprint(params) {
    return packFingerprint(await findPack(params.pack));
  },
  async run({ params, context }) {
    const dir = await findPack(params.pack).catch((error: Error & { nodeId?: string }) => {
      throw Object.assign(error, { nodeId: context.nodeId });
    });
    const pack = await loadPack(dir, context.tensors, { verify: params.verify }).catch(
      (error: Error & { nodeId?: string }) => {
        throw Object.assign(error, { nodeId: context.nodeId });
      },
    );
    context.progress(1, { message: `${pack.manifest.name} ${pack.manifest.version}` });
    return { model: pack };
  },
});
