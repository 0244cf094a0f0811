import { KinegraphError, type BuiltGraph, type EmbeddingValue, type ModelHandle, type NodeContext, type TensorHandle } from '@kinegraph/core/sdk';
import type { ManifestModel } from '../../model/manifest.js';
import { inputGraph } from '../../sampling/step-graphs.js';
import { makePreview } from '../../media/index.js';
import { Type } from '@kinegraph/core/sdk';
import type { PackValue } from '../../model/pack.js';
import { PromptTokenizer } from '../../model/tokenizer.js';
import { SAMPLERS } from '../../sampling/coefficients.js';

/** Sampler params shared by every sampling node: one schema, so the editor shows them alike. */
export const samplingParams = {
  seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0, description: 'Noise seed: the same seed gives the same result on the same device.' }),
  steps: Type.Integer({ minimum: 1, maximum: 200, default: 25, description: 'Denoising steps; more is slower and usually cleaner.' }),
  sampler: Type.Union(
    SAMPLERS.map((s) => Type.Literal(s)),
    { default: 'dpmpp-2m', description: 'ddim, dpmpp-2m (good at few steps) or euler.' },
  ),
  eta: Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'DDIM only: fresh noise per step (0 = deterministic DDIM).' }),
};

/** Loads a graph built in TS into the node's store (pooled) and runs it. */
export async function runGraph(context: NodeContext, graph: BuiltGraph, feeds: Record<string, TensorHandle>): Promise<Record<string, TensorHandle>> {
  const model = await context.tensors.loadModel(graph.bytes);
  return context.tensors.run(model, feeds);
}

const tokenizers = new WeakMap<object, PromptTokenizer>();

/** Encodes a prompt with the pack's tokenizer and text encoder; unknown words become warnings. */
export async function encodePrompt(context: NodeContext, pack: PackValue, text: string, options: { warn: boolean }): Promise<EmbeddingValue> {
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
    context.warn('PROMPT_TRUNCATED', `The prompt is longer than ${pack.manifest.tokenizer.max_length} words; "${encoded.truncatedWords.join(' ')}" was cut off.`);
  }
  const ids = await context.tensors.upload(encoded.ids, [1, encoded.ids.length], 'int64');
  const out = await context.tensors.run(pack.sessions.textEncoder, { [pack.manifest.models.text_encoder.inputs[0]?.name ?? 'input_ids']: ids });
  context.tensors.release(ids);
  const tensor = Object.values(out)[0]!;
  return { kind: 'embedding', tensor, text };
}

/** A float32 [n] tensor filled with t: the denoisers' timestep input. */
export function timestepTensor(context: NodeContext, t: number, batch: number): Promise<TensorHandle> {
  return context.tensors.upload(new Float32Array(batch).fill(t), [batch], 'float32');
}

/** Checks a tensor's dims against what a model expects, naming both in the error. */
export function expectDims(nodeId: string, what: string, actual: readonly number[], expected: readonly number[], hint: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new KinegraphError('SHAPE_MISMATCH', `${what} has shape [${actual.join(', ')}], the model needs [${expected.join(', ')}].`, { nodeId, hint });
  }
}

/** The single name of a model output (the manifest's first output). */
export function firstOutputName(outputs: ReadonlyArray<{ name: string }>): string {
  return outputs[0]?.name ?? 'prediction';
}

/**
 * A text-conditioned denoiser call as the sampling loop wants it: the noisy state and any conditioning
 * channels concatenated (and stacked twice on the batch axis for guidance), a timestep tensor, the text
 * embeddings, one model run. Returns the raw prediction; releases what it made on the way.
 */
export function textDenoiser(
  context: NodeContext,
  session: ModelHandle,
  model: ManifestModel,
  options: { guided: boolean; batch: number; text: TensorHandle; conditioning?: TensorHandle },
): (x: TensorHandle, t: number) => Promise<TensorHandle> {
  const [xName, tName, textName] = [model.inputs[0]?.name ?? 'x', model.inputs[1]?.name ?? 't', model.inputs[2]?.name ?? 'text_embeddings'];
  const outName = firstOutputName(model.outputs);
  const prepare = inputGraph(options.conditioning ? 2 : 1, options.guided);
  return async (x, t) => {
    // Both requests go out at once: their round trips to the worker overlap.
    const ttSent = timestepTensor(context, t, options.guided ? 2 * options.batch : options.batch);
    ttSent.catch(() => undefined);
    const xin = (await runGraph(context, prepare, options.conditioning ? { in0: x, in1: options.conditioning } : { in0: x })).out!;
    const tt = await ttSent;
    const out = await context.tensors.run(session, { [xName]: xin, [tName]: tt, [textName]: options.text }, [outName]);
    context.tensors.release(xin);
    context.tensors.release(tt);
    return out[outName]!;
  };
}

/** Fresh per-step noise for DDIM with eta > 0, derived from the node's seed so runs repeat exactly. */
export function stepNoise(context: NodeContext, dims: readonly number[], seed: number): (step: number) => Promise<TensorHandle> {
  return (step) => context.ops.randn(dims, seed + 7919 * (step + 1));
}

/** An `onStep` that sends a preview of the predicted clean result every `every` steps and at the end. */
export function previewSteps(context: NodeContext, every: number, total: number): (step: number, x0: TensorHandle) => Promise<void> {
  return async (step, x0) => {
    if (every <= 0 || ((step + 1) % every !== 0 && step !== total - 1)) return;
    const preview = await makePreview(context, x0);
    context.progress((step + 1) / total, { preview, message: `step ${step + 1}/${total}` });
  };
}
