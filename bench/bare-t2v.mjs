// The job of `kinegraph run workflows/text-to-video.json` written directly against onnxruntime-node, as a
// fresh process: the same model files and session options, the same model calls (text encoder for the
// prompt and the empty negative, 25 STUNet calls at batch 2 for guidance), the same inputs, a DPM++ 2M
// update in plain JS, then the clip upscaled to 256x256 (nearest) and written as H.264 MP4 by ffmpeg.
// No validation, no cache, no previews, no checksums, no embedded workflow: the floor `kinegraph run` is
// compared with (bench/workflows.mjs). Usage: node bench/bare-t2v.mjs OUT.mp4
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const root = fileURLToPath(new URL('..', import.meta.url));
const pack = join(root, 'models/kinegraph-tiny');
const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'));
const workflow = JSON.parse(readFileSync(join(root, 'workflows/text-to-video.json'), 'utf8'));
const { text } = workflow.nodes.prompt.params;
const { steps, guidance, seed } = workflow.nodes.sampler.params;
const out = process.argv[2] ?? '/tmp/bare-t2v.mp4';

const options = { graphOptimizationLevel: 'all', intraOpNumThreads: 2 };
const [textEncoder, stunet] = await Promise.all([
  ort.InferenceSession.create(join(pack, manifest.models.text_encoder.file), { ...options, intraOpNumThreads: 1 }),
  ort.InferenceSession.create(join(pack, manifest.models.stunet.file), options),
]);

// Word-level tokenizer: the vocabulary of tokenizer.json, unknown words to [UNK], padded to L.
const vocab = JSON.parse(readFileSync(join(pack, manifest.tokenizer.file), 'utf8')).model.vocab;
const L = manifest.tokenizer.max_length;
const tokenize = (s) => {
  const ids = new BigInt64Array(L).fill(BigInt(manifest.tokenizer.pad_id));
  s.toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, L)
    .forEach((w, i) => {
      ids[i] = BigInt(vocab[w] ?? manifest.tokenizer.unk_id);
    });
  return new ort.Tensor('int64', ids, [1, L]);
};
const embed = async (s) => (await textEncoder.run({ input_ids: tokenize(s) })).text_embeddings;
const [pos, neg] = [await embed(text), await embed('')];
const emb = new ort.Tensor('float32', Float32Array.from([...pos.data, ...neg.data]), [2, L, pos.dims[2]]);

// Cosine schedule from the manifest; DPM++ 2M in the data-prediction form, v-prediction model.
const ac = manifest.schedule.alphas_cumprod;
const T = ac.length;
const ts = Array.from({ length: steps }, (_, i) => Math.round(((T - 1) * (steps - 1 - i)) / Math.max(1, steps - 1)));
const [F, H, W] = [manifest.frames, ...manifest.resolution.base];
const n = 3 * F * H * W;
let state = seed >>> 0;
const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
const x = Float32Array.from(
  { length: n },
  () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
);
const input = new Float32Array(2 * 7 * F * H * W); // [x, zeros(4)] twice: no conditioning
let previous;
for (let i = 0; i < steps; i++) {
  input.set(x, 0);
  input.set(x, 7 * F * H * W);
  const t = ts[i];
  const result = await stunet.run({
    x: new ort.Tensor('float32', input, [2, 7, F, H, W]),
    t: new ort.Tensor('float32', Float32Array.of(t, t), [2]),
    text_embeddings: emb,
  });
  const v = result.prediction.data;
  const a = Math.sqrt(ac[t]);
  const s = Math.sqrt(1 - ac[t]);
  const tNext = ts[i + 1];
  const aN = tNext === undefined ? 1 : Math.sqrt(ac[tNext]);
  const sN = tNext === undefined ? 0 : Math.sqrt(1 - ac[tNext]);
  const x0 = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const vg = v[j + n] + guidance * (v[j] - v[j + n]);
    x0[j] = a * x[j] - s * vg;
  }
  // First-order step on the first iteration, the two-step multistep correction afterwards.
  const d = previous ? x0.map((v0, j) => 1.5 * v0 - 0.5 * previous[j]) : x0;
  for (let j = 0; j < n; j++) x[j] = sN === 0 ? d[j] : (sN / s) * x[j] + (aN - (sN / s) * a) * d[j];
  previous = x0;
}

// [-1, 1] planar CHW frames to packed RGB bytes; ffmpeg scales to 256x256 (nearest) and encodes.
const rgb = Buffer.alloc(F * H * W * 3);
for (let f = 0; f < F; f++)
  for (let p = 0; p < H * W; p++)
    for (let c = 0; c < 3; c++) {
      rgb[(f * H * W + p) * 3 + c] = Math.max(
        0,
        Math.min(255, Math.round((x[c * F * H * W + f * H * W + p] + 1) * 127.5)),
      );
    }
const ffmpeg = spawnSync(
  'ffmpeg',
  [
    '-v',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${W}x${H}`,
    '-r',
    String(manifest.fps),
    '-i',
    '-',
    '-vf',
    'scale=256:256:flags=neighbor',
    '-pix_fmt',
    'yuv420p',
    '-c:v',
    'libx264',
    '-preset',
    'medium',
    '-crf',
    '20',
    '-movflags',
    '+faststart',
    out,
  ],
  { input: rgb },
);
if (ffmpeg.status !== 0) throw new Error(`ffmpeg failed: ${ffmpeg.stderr}`);
console.log(out);
