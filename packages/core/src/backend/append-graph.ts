/**
 * Appends a small op graph to a model, so one session runs both: the model and the math that follows
 * it (a sampler's update step) become one ONNX Runtime call instead of two.
 *
 * Why: between two model calls, a separate op-graph session costs a worker round trip and runs while
 * the model's thread pool still spins, which makes a 0.6 ms update take 1.1–1.5 ms on a 2-core CPU
 * (measured). Inside the model's session the same ops run on its own pool, with no extra message.
 *
 * The tail's inputs are either linked to a value of the model (one of its graph inputs or outputs) or
 * become new inputs of the combined model under their own names; the combined model's outputs are the
 * model's followed by the tail's. Every other name of the tail is prefixed, so it cannot collide with the
 * model's.
 */

import type { OnnxNs } from '../graph/onnx-proto.js';
import { onnx } from '../graph/onnx-proto.js';
import { TensorError } from '../tensor/errors.js';
import type { AppendedGraph } from '../tensor/types.js';

const PREFIX = 'kinegraph_tail/';
const GRAPH_ATTRS = new Set([5, 10]); // AttributeProto.GRAPH, GRAPHS: subgraphs (If, Loop, Scan)

function defaultOpset(model: OnnxNs.IModelProto): number | undefined {
  const entry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (!entry) return undefined;
  const v = entry.version;
  return typeof v === 'number' ? v : v == null ? undefined : Number(v.toString());
}

/** Decodes model bytes; bytes that are not an ONNX model (a truncated file) are the model's fault: MODEL_LOAD_FAILED. */
export function decodeModel(bytes: Uint8Array): OnnxNs.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new TensorError(
      'MODEL_LOAD_FAILED',
      `the model cannot be read as ONNX (truncated or not a model file): ${(error as Error).message}`,
    );
  }
}

function fail(message: string): never {
  throw new TensorError('GRAPH_APPEND_FAILED', message);
}

/**
 * Returns the bytes of `model` with `tail.bytes` appended (see the module comment). Throws
 * `GRAPH_APPEND_FAILED` when a link names a tail input or a model value that does not exist, when an
 * unlinked tail input or a tail output would reuse a name of the model, when the two use different
 * default-domain opsets (ops can change meaning between opsets), or when the tail has subgraphs.
 */
export function appendGraph(modelBytes: Uint8Array, tail: AppendedGraph): Uint8Array {
  const model = decodeModel(modelBytes);
  let extra: OnnxNs.ModelProto;
  try {
    extra = onnx.ModelProto.decode(tail.bytes);
  } catch (error) {
    fail(`the appended graph is not an ONNX model: ${(error as Error).message}`);
  }
  const graph = model.graph;
  const tailGraph = extra.graph;
  if (!graph || !tailGraph) fail('both the model and the appended graph need a graph');
  const [opset, tailOpset] = [defaultOpset(model), defaultOpset(extra)];
  if (opset !== tailOpset)
    fail(
      `the model uses opset ${opset ?? 'none'} and the appended graph opset ${tailOpset ?? 'none'}; they must be equal`,
    );
  if ((extra.opsetImport ?? []).some((o) => (o.domain ?? '') !== '' && o.domain !== 'ai.onnx'))
    fail('the appended graph may only use default-domain ops');

  const modelInputs = (graph.input ?? []).map((v) => v.name ?? '');
  const modelOutputs = (graph.output ?? []).map((v) => v.name ?? '');
  const linkable = new Set([...modelInputs, ...modelOutputs]);
  const taken = new Set<string>([
    ...linkable,
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  const tailInputs = (tailGraph.input ?? []).map((v) => v.name ?? '');
  const tailOutputs = (tailGraph.output ?? []).map((v) => v.name ?? '');

  const rename = new Map<string, string>();
  for (const [input, target] of Object.entries(tail.links)) {
    if (!tailInputs.includes(input))
      fail(`link "${input}" is not an input of the appended graph (inputs: ${tailInputs.join(', ')})`);
    if (!linkable.has(target))
      fail(
        `link "${input}" → "${target}": the model has no input or output "${target}" (inputs: ${modelInputs.join(', ')}; outputs: ${modelOutputs.join(', ')})`,
      );
    rename.set(input, target);
  }
  for (const name of [...tailInputs.filter((n) => !rename.has(n)), ...tailOutputs]) {
    if (taken.has(name)) fail(`"${name}" of the appended graph is already a value of the model; rename it or link it`);
    rename.set(name, name);
  }
  const renamed = (name: string | null | undefined): string => {
    if (!name) return ''; // an omitted optional input stays omitted
    let to = rename.get(name);
    if (to === undefined) rename.set(name, (to = PREFIX + name));
    return to;
  };

  const nodes = (tailGraph.node ?? []).map((node) => {
    if ((node.attribute ?? []).some((a) => GRAPH_ATTRS.has(a.type ?? 0)))
      fail(`node ${node.name ?? node.opType} of the appended graph has a subgraph`);
    return {
      ...node,
      name: PREFIX + (node.name ?? ''),
      input: (node.input ?? []).map(renamed),
      output: (node.output ?? []).map(renamed),
    };
  });
  const initializers = (tailGraph.initializer ?? []).map((t) => ({ ...t, name: renamed(t.name) }));
  const linkedNames = new Set(Object.keys(tail.links));

  // Protobuf merges a singular message field that occurs twice and concatenates its repeated fields, so
  // appending a second `graph` field (7) holding only the tail's parts extends the model's graph without
  // re-encoding its megabytes of weights. The model's outputs stay outputs.
  const fragment = onnx.GraphProto.encode({
    node: nodes,
    initializer: initializers,
    input: (tailGraph.input ?? []).filter((v) => !linkedNames.has(v.name ?? '')),
    output: tailGraph.output ?? [],
    valueInfo: (tailGraph.valueInfo ?? []).map((v) => ({ ...v, name: renamed(v.name) })),
  }).finish();
  const header = [(7 << 3) | 2, ...varint(fragment.length)];
  const out = new Uint8Array(modelBytes.length + header.length + fragment.length);
  out.set(modelBytes, 0);
  out.set(header, modelBytes.length);
  out.set(fragment, modelBytes.length + header.length);
  return out;
}

/** Protobuf's base-128 varint of a non-negative length. */
function varint(n: number): number[] {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return bytes;
}

export { hashAppendedGraph } from './option-hashes.js';
