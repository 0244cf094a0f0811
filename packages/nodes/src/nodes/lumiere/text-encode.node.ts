import { defineNode, Type } from '@kinegraph/core/sdk';
import { asPack } from '../../model/pack.js';
import { asPackFacts } from '../../model/pack-facts.js';
import { encodePrompt } from './common.js';
import { f32 } from './memory.js';

/**
 * TextEncode: a prompt → text embeddings with the pack's tokenizer and text encoder. Words the model's
 * vocabulary lacks are reported as a warning (and encoded as [UNK]), never silently dropped. Name the node
 * `prompt` in shared workflows so `--set prompt.text=...` works.
 */
export const textEncodeNode = defineNode({
  type: 'kinegraph/text-encode',
  version: 1,
  title: 'Text Encode',
  category: 'conditioning',
  description: 'Encodes a prompt into text embeddings for the samplers.',
  params: Type.Object({
    text: Type.String({
      default: '',
      maxLength: 2000,
      description: 'The prompt. Empty means "no prompt" (the unconditional embedding).',
      'x-multiline': true,
    }),
  }),
  inputs: { model: { type: 'model' } },
  outputs: { embedding: { type: 'embedding' } },
  // The embedding [1, tokens, width] (twice while the encoder returns it) and the token ids (int64).
  memory({ facts }) {
    const pack = asPackFacts(facts.model);
    if (!pack) return undefined;
    const dims = [1, pack.textTokens, pack.textWidth];
    return { outputs: { embedding: { dims, dtype: 'float32' } }, scratchBytes: f32(...dims) + pack.textTokens * 8 };
  },
  async run({ params, inputs, context }) {
    const pack = asPack(inputs.model, context.nodeId);
    const embedding = await encodePrompt(context, pack, params.text, { warn: true });
    context.progress(1);
    return { embedding };
  },
});
