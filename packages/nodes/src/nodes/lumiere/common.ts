import {
  type EmbeddingValue,
  KinegraphError,
  type ModelHandle,
  type NodeContext,
  type TensorHandle,
  Type,
} from '@kinegraph/core/sdk';
import { makePreview } from '../../media/index.js';
import type { ManifestModel } from '../../model/manifest.js';
import type { PackValue } from '../../model/pack.js';
import { PromptTokenizer } from '../../model/tokenizer.js';
import { SAMPLERS } from '../../sampling/coefficients.js';
import type { ModelInput } from '../../sampling/denoise.js';

/** Sampler params shared by every sampling node: one schema, so the editor shows them alike. */
export const samplingParams = {
  seed: Type.Integer({
    minimum: 0,
    maximum: 2 ** 31 - 1,
    default: 0,
    description: 'Noise seed: the same seed gives the same result on the same device.',
  }),
  steps: Type.Integer({
    minimum: 1,
    maximum: 200,
    default: 25,
    description: 'Denoising steps; more is slower and usually cleaner.',
  }),
  sampler: Type.Union(
    SAMPLERS.map((s) => Type.Literal(s)),
    { default: 'dpmpp-2m', description: 'ddim, dpmpp-2m (good at few steps) or euler.' },
  ),
  eta: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0,
    description: 'DDIM only: fresh noise per step (0 = deterministic DDIM).',
  }),
};

const tokenizers = new WeakMap<object, PromptTokenizer>();

/** Encodes a prompt with the pack's tokenizer and text encoder; unknown words become warnings. */
export async function encodePrompt(
  context: NodeContext,
  pack: PackValue,
  text: string,
  options: { warn: boolean },
): Promise<EmbeddingValue> {
  let tokenizer = tokenizers.get(pack.tokenizerJson);
  if (!tokenizer) {
    const t = pack.manifest.tokenizer;
    tokenizer = new PromptTokenizer(pack.tokenizerJson, t.max_length, t.pad_id, t.unk_id);
    tokenizers.set(pack.tokenizerJson, tokenizer);
  }
  const encoded = tokenizer.encode(text);
  if (options.warn && encoded.unknownWords.length) {
    context.warn(
      'WORDS_OUT_OF_VOCABULARY',
      `The model does not know ${encoded.unknownWords.map((w) => `"${w}"`).join(', ')}; ${encoded.unknownWords.length === 1 ? 'it is' : 'they are'} encoded as [UNK].`,
    );
  }
  if (options.warn && encoded.truncatedWords.length) {
    context.warn(
      'PROMPT_TRUNCATED',
      `The prompt is longer than ${pack.manifest.tokenizer.max_length} words; "${encoded.truncatedWords.join(' ')}" was cut off.`,
    );
  }
  const ids = await context.tensors.upload(encoded.ids, [1, encoded.ids.length], 'int64');
  const out = await context.tensors.run(pack.sessions.textEncoder, {
    [pack.manifest.models.text_encoder.inputs[0]?.name ?? 'input_ids']: ids,
  });
  context.tensors.release(ids);
  const tensor = Object.values(out)[0]!;
  return { kind: 'embedding', tensor, text };
}

/** A float32 [n] tensor filled with t: the denoisers' timestep input. */
export function timestepTensor(context: NodeContext, t: number, batch: number): Promise<TensorHandle> {
  return context.tensors.upload(new Float32Array(batch).fill(t), [batch], 'float32');
}

/** Checks a tensor's dims against what a model expects, naming both in the error. */
export function expectDims(
  nodeId: string,
  what: string,
  actual: readonly number[],
  expected: readonly number[],
  hint: string,
): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new KinegraphError(
      'SHAPE_MISMATCH',
      `${what} has shape [${actual.join(', ')}], the model needs [${expected.join(', ')}].`,
      { nodeId, hint },
    );
  }
}

/** The single name of a model output (the manifest's first output). */
export function firstOutputName(outputs: ReadonlyArray<{ name: string }>): string {
  return outputs[0]?.name ?? 'prediction';
}

/**
 * A text-conditioned denoiser as the sampling loop wants it: `input` says how the model input is made from
 * the state (the conditioning channels appended, stacked twice for guidance; {@link denoise} makes it,
 * fused with each step's update), and `predict` runs the model on that input with a timestep tensor and
 * the text embeddings. Given the loop's `timesteps`, each call sends the next step's timestep tensor while
 * the model runs, so no upload round trip sits between the steps. Returns the raw prediction.
 */
export function textDenoiser(
  context: NodeContext,
  session: ModelHandle,
  model: ManifestModel,
  options: {
    guided: boolean;
    batch: number;
    text: TensorHandle;
    conditioning?: TensorHandle;
    timesteps?: readonly number[];
  },
): { input: ModelInput; predict: (input: TensorHandle, t: number, step: number) => Promise<TensorHandle> } {
  const [xName, tName, textName] = [
    model.inputs[0]?.name ?? 'x',
    model.inputs[1]?.name ?? 't',
    model.inputs[2]?.name ?? 'text_embeddings',
  ];
  const outName = firstOutputName(model.outputs);
  const rows = options.guided ? 2 * options.batch : options.batch;
  const input: ModelInput = options.conditioning
    ? { conditioning: options.conditioning, duplicate: options.guided }
    : { duplicate: options.guided };
  // The next step's timestep tensor, sent ahead (a failed run leaves it to the node's scoped store).
  let ahead: { step: number; t: number; tensor: Promise<TensorHandle> } | undefined;
  const send = (step: number, t: number) => {
    const tensor = timestepTensor(context, t, rows);
    tensor.catch(() => undefined);
    return { step, t, tensor };
  };
  return {
    input,
    async predict(xin, t, step) {
      const mine = ahead?.step === step && ahead.t === t ? ahead : send(step, t);
      if (ahead && ahead !== mine)
        void ahead.tensor.then(
          (unused) => context.tensors.release(unused),
          () => undefined,
        );
      const next = options.timesteps?.[step + 1];
      ahead = next === undefined ? undefined : send(step + 1, next);
      const tt = await mine.tensor;
      try {
        const out = await context.tensors.run(session, { [xName]: xin, [tName]: tt, [textName]: options.text }, [
          outName,
        ]);
        return out[outName]!;
      } finally {
        context.tensors.release(tt);
      }
    },
  };
}

/** Fresh per-step noise for DDIM with eta > 0, derived from the node's seed so runs repeat exactly. */
export function stepNoise(
  context: NodeContext,
  dims: readonly number[],
  seed: number,
): (step: number) => Promise<TensorHandle> {
  return (step) => context.ops.randn(dims, seed + 7919 * (step + 1));
}

/** An `onStep` that sends a preview of the predicted clean result every `every` steps and at the end. */
export function previewSteps(
  context: NodeContext,
  every: number,
  total: number,
): (step: number, x0: TensorHandle) => Promise<void> {
  return async (step, x0) => {
    if (!context.previews || every <= 0 || ((step + 1) % every !== 0 && step !== total - 1)) return;
    const preview = await makePreview(context, x0);
    context.progress((step + 1) / total, { preview, message: `step ${step + 1}/${total}` });
  };
}
