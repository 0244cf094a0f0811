// onnxruntime-node 1.30: Tensor.getData() on a WebGPU output kept in a GPU buffer aborts the process.
//
//   node docs/webgpu-readback-abort.mjs     (needs a WebGPU adapter: any GPU, or Mesa's lavapipe)
//
// Cause, in onnxruntime-node's native binding (js/node/src/tensor_helper.cc, OrtValueToNapiValue): a
// 'gpu-buffer' output becomes `Tensor.fromGpuBuffer(external, { download })`, and that `download` callback
// is a stub, `NAPI_THROW("not implemented")`. With node-addon-api's C++ exceptions on, NAPI_THROW is a plain
// `throw`, so the stub throws a `const char*`, which no handler between it and V8 catches (the wrappers
// catch Napi::Error only): std::terminate, "terminate called after throwing an instance of 'char const*'",
// exit 134. The binding's download is not implemented at all, so no JS-side guard can make getData() work.
//
// What works (what Kinegraph does, packages/core/src/backend/onnx.ts): feed the GPU tensor to a second
// WebGPU session whose outputs are left in CPU memory (no preferredOutputLocation); ORT copies the result
// down itself. This script shows that first, then makes the call that aborts.
import { buildGraph } from '@kinegraph/core';
import * as ort from 'onnxruntime-node';

const add1 = buildGraph('add1', (g) => g.output('y', g.add(g.input('x', 'float32', [4]), 1))).bytes;
const identity = buildGraph('identity', (g) => g.output('y', g.input('x', 'float32', [4]))).bytes;

const onGpu = await ort.InferenceSession.create(add1, {
  executionProviders: ['webgpu'],
  preferredOutputLocation: 'gpu-buffer',
});
const { y } = await onGpu.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) });
console.log(`output location: ${y.location}`); // gpu-buffer

const readback = await ort.InferenceSession.create(identity, { executionProviders: ['webgpu'] });
const copy = (await readback.run({ x: y })).y;
console.log(`through a readback session: ${copy.location} [${Array.from(copy.data).join(', ')}]`); // cpu [2, 3, 4, 5]

console.log('now y.getData(): the process aborts (exit 134) instead of rejecting');
await y.getData();
console.log('not reached');
