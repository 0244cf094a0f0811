/**
 * Op graphs a node defines once, at module level, and runs from its context with named feeds.
 *
 * A node's own tensor math (a colour grade, a cross-fade, a sampler update) is a small ONNX graph, so it runs
 * in the inference worker on the run's device and the data never comes back into JS. This module is the one
 * way to keep such a graph: it is built on first use and its bytes object never changes afterwards, so the
 * tensor store, which remembers loads by bytes object, creates its session once and answers every later
 * load without a round trip to the worker.
 */
import type { BuiltGraph, Dim, GraphBuilder, GraphPort, GraphValue } from '../graph/index.js';
import { buildGraph } from '../graph/index.js';
import { dataMatchesDType, dtypeOfData, elementCount } from '../tensor/dtype.js';
import type { DType, TensorData, TensorHandle, TensorStore } from '../tensor/types.js';
import { KinegraphError } from '../util/errors.js';

/**
 * What {@link GraphDefinition.run} needs: a node's `context` has both. `signal` cancels a run that has not
 * finished when the node is cancelled.
 */
export interface GraphContext {
  readonly tensors: TensorStore;
  readonly signal?: AbortSignal;
}

/**
 * A value for one graph input: a tensor handle, or JS data that `run` uploads with the input's dtype and
 * releases once the graph has run. A number fills a tensor of ones of the input's rank (a scalar when the
 * input declares no shape); an array or typed array is a vector, or takes the input's declared fixed dims;
 * `{ data, dims }` gives the dims explicitly.
 */
export type GraphFeed =
  | TensorHandle
  | number
  | readonly number[]
  | TensorData
  | { readonly data: TensorData | readonly number[]; readonly dims: readonly number[] };

/** Feeds by graph input name. `undefined` entries are skipped, so optional inputs read naturally. */
export type GraphFeeds = Readonly<Record<string, GraphFeed | undefined>>;

/**
 * What a graph's build function may return: its outputs by name. Each becomes a graph output (entries that
 * are `undefined` are skipped, for outputs only some variants have). A build function may also call
 * `g.output(...)` itself, e.g. to give an output's dims, and return nothing.
 */
export type GraphOutputs<O extends string> = { readonly [K in O]: GraphValue | undefined };

/** A graph defined with {@link defineGraph}: built on first use, run from a node's context. */
export interface GraphDefinition<O extends string = string> {
  /** The graph's name (also its ONNX graph name, which errors from ONNX Runtime mention). */
  readonly name: string;
  /**
   * The built graph (inputs, outputs, ONNX bytes), built on first access and the same object ever after.
   * For `ModelOptions.appendGraph` and for tests; nodes call {@link GraphDefinition.run}.
   */
  readonly graph: BuiltGraph;
  /**
   * Runs the graph on the context's tensor store: loads it (once per store: later loads are answered from
   * the store's memory), uploads the feeds given as JS data, runs, and releases those uploads, also when the
   * run fails. Resolves to the requested outputs (default: every output) as new handles owned by the
   * caller; in a node, the scheduler frees those the node does not return.
   *
   * Throws `GRAPH_FEED_INVALID` before anything is sent when a feed is missing, unknown, or of the wrong
   * dtype or shape (fixed dims, rank, and a symbolic dim that differs between inputs); the message lists
   * the graph's inputs.
   */
  run<K extends O = O>(
    context: GraphContext,
    feeds: GraphFeeds,
    outputs?: readonly K[],
  ): Promise<Record<K, TensorHandle>>;
}

/**
 * Defines an op graph once, at module level; it is built the first time it is used.
 *
 * ```ts
 * const brighten = defineGraph('acme/brighten', (g) => {
 *   const video = g.input('video', 'float32', ['B', 3, 'F', 'H', 'W']);
 *   const amount = g.input('amount', 'float32', []);
 *   return { brightened: g.clip(g.add(video, amount), -1, 1) };
 * });
 * // in a node's run:
 * const { brightened } = await brighten.run(context, { video: tensor, amount: params.amount });
 * ```
 *
 * Keep params that change between runs as graph inputs, not constants: one session then serves every value.
 * For graphs that depend on a variant (a frame count, a set of optional terms) see {@link defineGraphFamily}.
 */
export function defineGraph<O extends string = string>(
  name: string,
  build: (g: GraphBuilder) => GraphOutputs<O> | undefined,
): GraphDefinition<O> {
  let built: BuiltGraph | undefined;
  const graph = (): BuiltGraph => {
    built ??= buildGraph(name, (g) => {
      const outputs = build(g);
      for (const [output, value] of Object.entries<GraphValue | undefined>(outputs ?? {}))
        if (value) g.output(output, value);
    });
    return built;
  };
  return {
    name,
    get graph() {
      return graph();
    },
    run: (context, feeds, outputs) => runGraph(graph(), context, feeds, outputs),
  };
}

/**
 * Defines a family of op graphs that differ by a variant (a frame count, which optional terms a sampler
 * step has): `name(variant)` names each member and must tell every variant that builds a different graph
 * apart. Each member is defined once, when first asked for, and kept.
 *
 * ```ts
 * const stillVideo = defineGraphFamily(
 *   (frames: number) => `acme/still-video-f${frames}`,
 *   (g, frames) => ({ video: g.concat(new Array(frames).fill(g.unsqueeze(g.input('image', 'float32'), [2])), 2) }),
 * );
 * const { video } = await stillVideo(16).run(context, { image });
 * ```
 */
export function defineGraphFamily<V, O extends string = string>(
  name: (variant: V) => string,
  build: (g: GraphBuilder, variant: V) => GraphOutputs<O> | undefined,
): (variant: V) => GraphDefinition<O> {
  const members = new Map<string, GraphDefinition<O>>();
  return (variant) => {
    const key = name(variant);
    let member = members.get(key);
    if (!member) members.set(key, (member = defineGraph<O>(key, (g) => build(g, variant))));
    return member;
  };
}

async function runGraph<K extends string>(
  graph: BuiltGraph,
  context: GraphContext,
  feeds: GraphFeeds,
  outputs: readonly K[] | undefined,
): Promise<Record<K, TensorHandle>> {
  const { handles, uploads } = planFeeds(graph, feeds);
  const { tensors } = context;
  if (uploads.length === 0) {
    // All handles (a sampler's step): nothing to upload or free, no extra promise on the hot path.
    const result: Record<string, TensorHandle> = await tensors.run(
      await tensors.loadModel(graph.bytes),
      handles,
      outputs,
      context.signal,
    );
    return result;
  }
  const loading = tensors.loadModel(graph.bytes);
  const settled = await Promise.allSettled(uploads.map((u) => tensors.upload(u.data, u.dims, u.dtype)));
  const uploaded = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    const model = await loading;
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    uploads.forEach((u, i) => {
      handles[u.name] = uploaded[i]!;
    });
    const result: Record<string, TensorHandle> = await tensors.run(model, handles, outputs, context.signal);
    return result;
  } finally {
    for (const handle of uploaded) tensors.release(handle);
  }
}

/** A feed given as JS data, ready to upload. */
interface Upload {
  readonly name: string;
  readonly data: TensorData;
  readonly dims: readonly number[];
  readonly dtype: DType;
}

/** Checks every feed against the graph's declared inputs and turns JS data into uploads. */
function planFeeds(graph: BuiltGraph, feeds: GraphFeeds): { handles: Record<string, TensorHandle>; uploads: Upload[] } {
  const fail = (problem: string) =>
    new KinegraphError('GRAPH_FEED_INVALID', `graph '${graph.name}': ${problem}.`, {
      hint: `Its inputs: ${graph.inputs.map(describePort).join('; ')}.`,
    });
  const handles: Record<string, TensorHandle> = {};
  const uploads: Upload[] = [];
  const symbols = new Map<string, { size: number; input: string }>();
  for (const [name, feed] of Object.entries(feeds)) {
    if (feed === undefined) continue;
    const port = graph.inputs.find((p) => p.name === name);
    if (!port) throw fail(`it has no input '${name}'`);
    if (isHandle(feed)) {
      if (feed.dtype !== port.dtype) throw fail(`input '${name}' is ${port.dtype}, the tensor fed is ${feed.dtype}`);
      checkDims(port, feed.dims, symbols, fail);
      handles[name] = feed;
    } else {
      const upload = toUpload(port, feed, fail);
      checkDims(port, upload.dims, symbols, fail);
      uploads.push(upload);
    }
  }
  const missing = graph.inputs.filter((p) => feeds[p.name] === undefined).map((p) => `'${p.name}'`);
  if (missing.length) throw fail(`no value for input${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`);
  return { handles, uploads };
}

function toUpload(port: GraphPort, feed: Exclude<GraphFeed, TensorHandle>, fail: (problem: string) => Error): Upload {
  if (typeof feed === 'number') {
    // A number is a scalar, shaped as ones of the input's rank ([] when the input declares no shape).
    return {
      name: port.name,
      data: toData(port, [feed], fail),
      dims: (port.dims ?? []).map(() => 1),
      dtype: port.dtype,
    };
  }
  if (isTensorData(feed) || isNumberArray(feed)) {
    const data = isTensorData(feed) ? feed : toData(port, feed, fail);
    const fixed = port.dims?.every((d): d is number => typeof d === 'number') ? (port.dims as number[]) : undefined;
    let dims: readonly number[];
    if (port.dims === undefined || port.dims.length === 1) dims = [data.length];
    else if (fixed) dims = fixed;
    else throw fail(`input '${port.name}' has rank ${port.dims.length}: feed it as { data, dims }`);
    return { name: port.name, data: checkedData(port, data, fail), dims, dtype: port.dtype };
  }
  const data = isTensorData(feed.data) ? feed.data : toData(port, feed.data, fail);
  if (data.length !== elementCount(feed.dims))
    throw fail(`input '${port.name}' has ${data.length} values for dims [${feed.dims.join(', ')}]`);
  return { name: port.name, data: checkedData(port, data, fail), dims: [...feed.dims], dtype: port.dtype };
}

/** Numbers as a typed array of the input's dtype. */
function toData(port: GraphPort, values: readonly number[], fail: (problem: string) => Error): TensorData {
  switch (port.dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'int32':
      return Int32Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    case 'int64':
      if (!values.every(Number.isSafeInteger)) throw fail(`input '${port.name}' is int64: feed whole numbers`);
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'float16':
      throw fail(`input '${port.name}' is float16: feed its bits as a Uint16Array`);
  }
}

function checkedData(port: GraphPort, data: TensorData, fail: (problem: string) => Error): TensorData {
  if (!dataMatchesDType(data, port.dtype))
    throw fail(`input '${port.name}' is ${port.dtype}, the data fed is ${dtypeOfData(data)}`);
  return data;
}

/** Rank and fixed dims as declared, and one size per symbolic dim across all inputs (as ONNX defines them). */
function checkDims(
  port: GraphPort,
  dims: readonly number[],
  symbols: Map<string, { size: number; input: string }>,
  fail: (problem: string) => Error,
): void {
  if (port.dims === undefined) return;
  const mismatch = () =>
    fail(`input '${port.name}' has dims [${dims.join(', ')}], the graph declares [${port.dims!.join(', ')}]`);
  if (dims.length !== port.dims.length) throw mismatch();
  port.dims.forEach((declared: Dim, axis) => {
    const size = dims[axis]!;
    if (typeof declared === 'number') {
      if (size !== declared) throw mismatch();
    } else if (declared !== '?') {
      const seen = symbols.get(declared);
      if (!seen) symbols.set(declared, { size, input: port.name });
      else if (seen.size !== size)
        throw fail(
          `dim ${declared} is ${seen.size} in input '${seen.input}' but ${size} in input '${port.name}' ([${dims.join(', ')}])`,
        );
    }
  });
}

function describePort(port: GraphPort): string {
  return `${port.name} ${port.dtype}${port.dims ? ` [${port.dims.join(', ')}]` : ''}`;
}

function isHandle(feed: GraphFeed): feed is TensorHandle {
  return typeof feed === 'object' && 'kind' in feed && feed.kind === 'tensor';
}

function isTensorData(value: unknown): value is TensorData {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

function isNumberArray(value: unknown): value is readonly number[] {
  return Array.isArray(value);
}
