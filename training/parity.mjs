#!/usr/bin/env node
// Torch-vs-onnxruntime-node parity checker, driven by export.py.
//   node training/parity.mjs <fixtures-dir>
// <fixtures-dir>/index.json: [{ name, model, inputs: [{name, dtype, dims, file}],
//                               outputs: [{name, dims, file}] }]
// Tensors are raw little-endian files (float32 or int64). Prints one JSON
// object {name: maxAbsDiff, ...} on stdout; export.py applies the tolerance.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

const dir = process.argv[2];
const cases = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));

function load(file, dtype) {
  const buf = readFileSync(join(dir, file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return dtype === 'int64' ? new BigInt64Array(ab) : new Float32Array(ab);
}

const result = {};
for (const c of cases) {
  const session = await ort.InferenceSession.create(c.model, { graphOptimizationLevel: 'all' });
  const feeds = {};
  for (const i of c.inputs) feeds[i.name] = new ort.Tensor(i.dtype, load(i.file, i.dtype), i.dims);
  const out = await session.run(feeds);
  let maxDiff = 0;
  for (const o of c.outputs) {
    const got = out[o.name];
    if (!got) throw new Error(`${c.name}: missing output ${o.name}`);
    if (got.dims.join(',') !== o.dims.join(',')) {
      throw new Error(`${c.name}: ${o.name} dims ${got.dims} != ${o.dims}`);
    }
    const want = load(o.file, 'float32');
    for (let k = 0; k < want.length; k++) {
      const d = Math.abs(got.data[k] - want[k]);
      if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
    }
  }
  result[c.name] = maxDiff;
  await session.release?.();
}
console.log(JSON.stringify(result));
