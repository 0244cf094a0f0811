/**
 * Model rewrites that steer ONNX Runtime's WebGPU execution provider (1.30) around its faults, applied to
 * models loaded on webgpu only (worker/prepare-model.ts). Each rewrite computes exactly the same function.
 * Both faults were found by running every shipped workflow on webgpu against cpu (bench/gpu.mjs, parity).
 *
 * Pow whose exponent is computed in the graph and broadcast (base [1, 3, F, H, W], exponent [1, 3, 1, 1, 1]
 * from a Reshape or any other node) fails every run with `absl::container_internal::raw_hash_map<>::at`;
 * with both operands of one shape it works. The color-grade plugin's gamma is such a Pow. Both operands
 * are expanded to their common shape first (Expand to each other's Shape).
 *
 * Conv with 3 | C_in, 4 ∤ C_in, C_in > 3 (6, 9, 18, 30 input channels) and a kernel larger than 1×1 returns
 * wrong values on the WebGPU EP (max abs error 0.4–3.8 against the CPU EP on random data; 3, 4, 5, 7, 8, 10,
 * 11, 12, 13, 14, 22 channels and 1×1 kernels are right): measured on Mesa's lavapipe, reproduced by
 * `docs/webgpu-ep-faults.mjs`. The shipped super-resolution model's first layer has 6 input channels
 * (video + upsampled conditioning), which made super-resolution on webgpu differ by 1.2 from cpu. Padding
 * the input channels with zeros to a multiple of 4 (and the weights likewise) avoids the faulty kernel.
 */
import type { OnnxNs } from '../graph/onnx-proto.js';
import { int64ToNumber, onnx } from '../graph/onnx-proto.js';
import { decodeModel } from './append-graph.js';

const FLOAT = 1;

/** Input channel counts the WebGPU EP's Conv gets wrong (see the module comment). */
export function convChannelsNeedPadding(cin: number): boolean {
  return cin > 3 && cin % 3 === 0 && cin % 4 !== 0;
}

/** The model rewritten around the WebGPU EP's faults, or `undefined` when nothing in it needs a rewrite. */
export function applyWebgpuWorkarounds(bytes: Uint8Array): Uint8Array | undefined {
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) return undefined;
  const changed = padConvChannels(graph) + expandPowOperands(graph);
  return changed === 0 ? undefined : onnx.ModelProto.encode(model).finish();
}

/** Pads the faulty Convs' input channels; returns how many Convs it changed. */
function padConvChannels(graph: OnnxNs.IGraphProto): number {
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  graph.initializer ??= [];
  const nodes: OnnxNs.INodeProto[] = [];
  let changed = 0;
  for (const node of graph.node ?? []) {
    const weight = node.opType === 'Conv' && (node.domain ?? '') === '' ? inits.get(node.input?.[1] ?? '') : undefined;
    const dims = weight?.dims?.map((d) => int64ToNumber(d)) ?? [];
    const group = node.attribute?.find((a) => a.name === 'group');
    const cin = dims[1] ?? 0;
    const kernel = dims.slice(2).reduce((p, d) => p * d, 1);
    if (
      weight === undefined ||
      weight.dataType !== FLOAT ||
      dims.length !== 4 ||
      (group !== undefined && int64ToNumber(group.i ?? 1) !== 1) ||
      kernel <= 1 ||
      !convChannelsNeedPadding(cin)
    ) {
      nodes.push(node);
      continue;
    }
    const padded = Math.ceil(cin / 4) * 4;
    const tag = `kinegraph_webgpu_conv/${changed++}`;
    // Weights [O, C, kh, kw] → [O, C', kh, kw] with zeros in the new input channels.
    const old = weightData(weight);
    const [o, , kh, kw] = dims as [number, number, number, number];
    const data = new Float32Array(o * padded * kh * kw);
    for (let i = 0; i < o; i++)
      data.set(old.subarray(i * cin * kh * kw, (i + 1) * cin * kh * kw), i * padded * kh * kw);
    graph.initializer!.push(
      onnx.TensorProto.create({
        name: `${tag}/weight`,
        dataType: FLOAT,
        dims: [o, padded, kh, kw],
        rawData: new Uint8Array(data.buffer),
      }),
      onnx.TensorProto.create({
        name: `${tag}/pads`,
        dataType: 7, // INT64
        dims: [8],
        rawData: new Uint8Array(BigInt64Array.from([0, 0, 0, 0, 0, padded - cin, 0, 0], BigInt).buffer),
      }),
    );
    nodes.push(
      onnx.NodeProto.create({
        opType: 'Pad',
        name: `${tag}/pad`,
        input: [node.input![0]!, `${tag}/pads`],
        output: [`${tag}/x`],
      }),
    );
    nodes.push(
      onnx.NodeProto.create({ ...node, input: [`${tag}/x`, `${tag}/weight`, ...(node.input ?? []).slice(2)] }),
    );
  }
  graph.node = nodes;
  return changed;
}

/** Expands both operands of every Pow to their common shape; returns how many Pows it changed. */
function expandPowOperands(graph: OnnxNs.IGraphProto): number {
  const nodes: OnnxNs.INodeProto[] = [];
  let changed = 0;
  for (const node of graph.node ?? []) {
    if (node.opType !== 'Pow' || (node.domain ?? '') !== '' || (node.input?.length ?? 0) !== 2) {
      nodes.push(node);
      continue;
    }
    const tag = `kinegraph_webgpu_pow/${changed++}`;
    const [base, exponent] = node.input as [string, string];
    const make = (opType: string, input: string[], output: string) =>
      onnx.NodeProto.create({ opType, name: `${tag}/${output}`, input, output: [`${tag}/${output}`] });
    nodes.push(
      make('Shape', [base], 'base_shape'),
      make('Shape', [exponent], 'exponent_shape'),
      make('Expand', [base, `${tag}/exponent_shape`], 'base'),
      make('Expand', [exponent, `${tag}/base_shape`], 'exponent'),
      onnx.NodeProto.create({ ...node, input: [`${tag}/base`, `${tag}/exponent`] }),
    );
  }
  graph.node = nodes;
  return changed;
}

function weightData(t: OnnxNs.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) return new Float32Array(t.rawData.slice().buffer, 0, t.rawData.length / 4);
  return Float32Array.from(t.floatData ?? []);
}
