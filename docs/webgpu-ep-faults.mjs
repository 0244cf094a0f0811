// Two faults of onnxruntime-node 1.30's WebGPU execution provider that Kinegraph rewrites models around
// (packages/core/src/backend/webgpu-workarounds.ts). Each case runs the same graph on the CPU EP and the
// WebGPU EP and prints the max abs difference or the error.
//
//   node docs/webgpu-ep-faults.mjs          (needs a WebGPU adapter; seen on Mesa's lavapipe 25.0.7)
//
// 1. Conv, 3×3, with 6, 9, 18 or 30 input channels (3 divides C_in, 4 does not, C_in > 3) computes wrong
//    values (max abs error 0.4–3.8 on these inputs); 3, 4, 5, 7, 8, 10–14, 22 channels and 1×1 kernels agree.
// 2. Pow whose exponent is computed in the graph and broadcast against the base fails every run with
//    `absl::container_internal::raw_hash_map<>::at`; the same exponent given as a graph input, or of the
//    base's shape, works.
import { buildGraph } from '@kinegraph/core';
import * as ort from 'onnxruntime-node';

async function compare(name, bytes, feeds) {
  const out = {};
  for (const ep of ['cpu', 'webgpu']) {
    try {
      const s = await ort.InferenceSession.create(bytes, { executionProviders: [ep], logSeverityLevel: 4 });
      out[ep] = (await s.run(feeds())).y.data;
    } catch (error) {
      console.log(`${name}: ${ep} failed: ${String(error.message).split('\n')[0]}`);
      return;
    }
  }
  let max = 0;
  for (let i = 0; i < out.cpu.length; i++) max = Math.max(max, Math.abs(out.cpu[i] - out.webgpu[i]));
  console.log(`${name}: max abs diff webgpu vs cpu ${max.toExponential(2)}`);
}

for (const cin of [3, 4, 6, 8, 9, 12, 18]) {
  const w = Float32Array.from({ length: 16 * cin * 9 }, (_, i) => Math.sin(i) * 0.1);
  const conv = buildGraph(`conv${cin}`, (g) => {
    const x = g.input('x', 'float32', [2, cin, 16, 16]);
    g.output('y', g.op('Conv', [x, g.constant(w, [16, cin, 3, 3])], { pads: { ints: [1, 1, 1, 1] } })[0]);
  }).bytes;
  await compare(`Conv 3x3, ${cin} input channels`, conv, () => ({
    x: new ort.Tensor(
      'float32',
      Float32Array.from({ length: 2 * cin * 256 }, (_, i) => Math.sin(i * 0.13)),
      [2, cin, 16, 16],
    ),
  }));
}

const powGraph = (computed) =>
  buildGraph('pow', (g) => {
    const a = g.input('a', 'float32', [1, 3, 2, 4, 4]);
    const e = g.input('e', 'float32', [3]);
    const exponent = g.reshape(computed ? g.abs(e) : e, [1, 3, 1, 1, 1]);
    g.output('y', g.pow(a, exponent));
  }).bytes;
const powFeeds = () => ({
  a: new ort.Tensor(
    'float32',
    Float32Array.from({ length: 96 }, (_, i) => 0.5 + (i % 5) / 10),
    [1, 3, 2, 4, 4],
  ),
  e: new ort.Tensor('float32', Float32Array.of(1.1, 1, 0.95), [3]),
});
await compare('Pow, exponent Reshape(e) broadcast over the base', powGraph(false), powFeeds);
await compare('Pow, exponent Reshape(Abs(e)) broadcast over the base', powGraph(true), powFeeds);
