/**
 * Tensor math for diffusion nodes — guidance mixing, sampler updates, concatenation, slicing,
 * masking, resizing and seeded noise — run as small cached ONNX graphs in the inference worker, on
 * the store's device. Nothing here reads tensor data back into JS, so a sampling loop built on these
 * ops moves 0 bytes to the main thread (check `store.stats().bytesToJs`).
 */

import { elementCount } from '../tensor/dtype.js';
import { TensorError } from '../tensor/errors.js';
import { gaussianNoise } from '../tensor/random.js';
import type { ModelHandle, TensorHandle, TensorStore } from '../tensor/types.js';
import type { OpGraph } from './op-graphs.js';
import {
  axpbyGraph,
  binaryGraph,
  chunkGraph,
  concatGraph,
  lerpGraph,
  repeatGraph,
  resizeGraph,
  sliceGraph,
  whereGraph,
} from './op-graphs.js';

/** Counters of a {@link TensorOps}, for benchmarks and tests. */
export interface TensorOpsStats {
  /** Distinct op graphs built and loaded (one per op × dtype × baked parameter). */
  readonly graphsBuilt: number;
  /** Op graph runs. */
  readonly runs: number;
  /** Bytes uploaded for scalar and small parameter inputs (guidance scale, slice bounds, sizes). */
  readonly paramBytesFromJs: number;
  /** Bytes uploaded as seeded noise by {@link TensorOps.randn}. */
  readonly noiseBytesFromJs: number;
}

/** Interpolation of {@link TensorOps.resize}. */
export type ResizeMode = 'nearest' | 'linear';

type Param = { readonly data: Float32Array | BigInt64Array; readonly dims: readonly number[] };

/**
 * Ready-made tensor ops over a {@link TensorStore} (a node's `ctx.tensors`). Every method returns new
 * handles owned by the caller and never consumes its inputs. Graphs are cached per op name, so
 * repeated calls (every sampler step) reuse one session.
 */
export class TensorOps {
  readonly #store: TensorStore;
  readonly #graphs = new Map<string, Promise<ModelHandle>>();
  #runs = 0;
  #paramBytes = 0;
  #noiseBytes = 0;

  constructor(store: TensorStore) {
    this.#store = store;
  }

  /** a + b (broadcasting). */
  add(a: TensorHandle, b: TensorHandle): Promise<TensorHandle> {
    return this.#binary('add', a, b);
  }
  /** a − b (broadcasting). */
  sub(a: TensorHandle, b: TensorHandle): Promise<TensorHandle> {
    return this.#binary('sub', a, b);
  }
  /** a · b elementwise (broadcasting). */
  mul(a: TensorHandle, b: TensorHandle): Promise<TensorHandle> {
    return this.#binary('mul', a, b);
  }
  /** a / b elementwise (broadcasting). */
  div(a: TensorHandle, b: TensorHandle): Promise<TensorHandle> {
    return this.#binary('div', a, b);
  }

  /** s · a for a JS number s. */
  scale(a: TensorHandle, s: number): Promise<TensorHandle> {
    return this.axpby(s, a, 0, a);
  }

  /** a·x + b·y for JS numbers a, b: the shape of DDIM/Euler sampler updates. */
  async axpby(a: number, x: TensorHandle, b: number, y: TensorHandle): Promise<TensorHandle> {
    sameDtype('axpby', x, y);
    const out = await this.#run(axpbyGraph(x.dtype), { x, y0: y }, { a: scalar(a), b: scalar(b) });
    return one(out);
  }

  /** a + t·(b − a). */
  async lerp(a: TensorHandle, b: TensorHandle, t: number): Promise<TensorHandle> {
    sameDtype('lerp', a, b);
    return one(await this.#run(lerpGraph(a.dtype), { a, b }, { t: scalar(t) }));
  }

  /** Classifier-free guidance: uncond + scale·(cond − uncond). */
  cfgMix(uncond: TensorHandle, cond: TensorHandle, scale: number): Promise<TensorHandle> {
    return this.lerp(uncond, cond, scale);
  }

  /** Concatenates tensors along `axis` (default 0, the batch). */
  async concat(list: readonly TensorHandle[], axis = 0): Promise<TensorHandle> {
    const first = list[0];
    if (first === undefined) throw new TensorError('INVALID_ARGUMENT', 'concat: needs at least one tensor');
    for (const h of list) sameDtype('concat', first, h);
    const ax = normAxis('concat', axis, first.dims.length);
    const feeds = Object.fromEntries(list.map((h, i) => [`x${i}`, h]));
    return one(await this.#run(concatGraph(list.length, ax, first.dtype), feeds, {}));
  }

  /** a[start:end] along `axis` (negative indices count from the end, as in Python). */
  async slice(a: TensorHandle, axis: number, start: number, end: number): Promise<TensorHandle> {
    const ax = normAxis('slice', axis, a.dims.length);
    const bounds: Param = { data: BigInt64Array.from([BigInt(start), BigInt(end)]), dims: [2] };
    return one(await this.#run(sliceGraph(ax, a.dtype), { x: a }, { bounds }));
  }

  /** Splits `a` into `n` equal parts along `axis` (default 0: e.g. a CFG batch into [uncond, cond]). */
  async chunk(a: TensorHandle, n: number, axis = 0): Promise<TensorHandle[]> {
    const ax = normAxis('chunk', axis, a.dims.length);
    const size = a.dims[ax]!;
    if (!Number.isInteger(n) || n < 1 || size % n !== 0) {
      throw new TensorError(
        'INVALID_ARGUMENT',
        `chunk: axis ${ax} of size ${size} does not split into ${n} equal parts`,
      );
    }
    const out = await this.#run(chunkGraph(n, ax, a.dtype), { x: a }, {});
    return Array.from({ length: n }, (_, i) => out[`y${i}`]!);
  }

  /** mask ? a : b elementwise (broadcasting); a non-bool mask selects `a` where it is non-zero. */
  async where(mask: TensorHandle, a: TensorHandle, b: TensorHandle): Promise<TensorHandle> {
    sameDtype('where', a, b);
    return one(await this.#run(whereGraph(mask.dtype, a.dtype), { mask, a, b }, {}));
  }

  /**
   * Resizes the trailing `size.length` axes of `a` to `size` (leading axes kept): `[H, W]` for
   * `[B, C, H, W]` images or per-frame on `[B, C, F, H, W]` video, `[F, H, W]` for space–time resizing
   * of video. Half-pixel coordinates (PyTorch's `align_corners=False`); nearest rounds half down.
   */
  async resize(a: TensorHandle, size: readonly number[], mode: ResizeMode = 'nearest'): Promise<TensorHandle> {
    const rank = a.dims.length;
    if (size.length === 0 || size.length > rank || size.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new TensorError('INVALID_ARGUMENT', `resize: size [${size.join(', ')}] does not fit a rank-${rank} tensor`);
    }
    const lead = a.dims.slice(0, rank - size.length);
    const full = [...lead, ...size];
    const old = a.dims.slice(rank - size.length);
    if (mode === 'nearest' && size.every((s, i) => s % old[i]! === 0)) {
      // Whole-factor upscaling (a 32x32 clip shown at 256x256): a broadcast, not ORT's per-element Resize.
      const split = [...lead, ...old.flatMap((d) => [d, 1])];
      const expanded = [...lead, ...old.flatMap((d, i) => [d, size[i]! / d])];
      const i64 = (dims: readonly number[]): Param => ({
        data: BigInt64Array.from(dims, (d) => BigInt(d)),
        dims: [dims.length],
      });
      return one(
        await this.#run(repeatGraph(a.dtype), { x: a }, { split: i64(split), expanded: i64(expanded), out: i64(full) }),
      );
    }
    const sizes: Param = { data: BigInt64Array.from(full, (d) => BigInt(d)), dims: [rank] };
    return one(await this.#run(resizeGraph(mode, a.dtype), { x: a }, { sizes }));
  }

  /** Standard-normal noise of shape `dims` from `seed`, identical on every device (see `random.ts`). */
  async randn(dims: readonly number[], seed: number): Promise<TensorHandle> {
    const data = gaussianNoise(elementCount(dims), seed);
    this.#noiseBytes += data.byteLength;
    // The array is ours alone: hand its buffer over instead of copying when the store can.
    const store = this.#store as TensorStore & { uploadOwned?: TensorStore['upload'] };
    return store.uploadOwned ? store.uploadOwned(data, dims, 'float32') : store.upload(data, dims, 'float32');
  }

  /** Counters since construction. */
  stats(): TensorOpsStats {
    return {
      graphsBuilt: this.#graphs.size,
      runs: this.#runs,
      paramBytesFromJs: this.#paramBytes,
      noiseBytesFromJs: this.#noiseBytes,
    };
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #binary(op: 'add' | 'sub' | 'mul' | 'div', a: TensorHandle, b: TensorHandle): Promise<TensorHandle> {
    sameDtype(op, a, b);
    return this.#run(binaryGraph(op, a.dtype), { a, b }, {}).then(one);
  }

  /** Loads (once) the graph, uploads parameter inputs, runs, and frees the parameters. */
  async #run(
    graph: OpGraph,
    feeds: Record<string, TensorHandle>,
    params: Record<string, Param>,
  ): Promise<Record<string, TensorHandle>> {
    const model = await this.#model(graph);
    const entries = Object.entries(params);
    const settled = await Promise.allSettled(entries.map(([, p]) => this.#store.upload(p.data, p.dims)));
    const uploaded = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const all: Record<string, TensorHandle> = { ...feeds };
      entries.forEach(([name, p], i) => {
        all[name] = uploaded[i]!;
        this.#paramBytes += p.data.byteLength;
      });
      const out = await this.#store.run(model, all);
      this.#runs++;
      return out;
    } finally {
      for (const h of uploaded) this.#store.release(h);
    }
  }

  #model(graph: OpGraph): Promise<ModelHandle> {
    let m = this.#graphs.get(graph.name);
    if (m === undefined) {
      m = this.#store.loadModel(graph.build().bytes);
      this.#graphs.set(graph.name, m);
      m.catch(() => this.#graphs.delete(graph.name));
    }
    return m;
  }
}

function scalar(v: number): Param {
  return { data: Float32Array.of(v), dims: [] };
}

function one(out: Record<string, TensorHandle>): TensorHandle {
  return out.y!;
}

function sameDtype(op: string, a: TensorHandle, b: TensorHandle): void {
  if (a.dtype !== b.dtype) throw new TensorError('INVALID_ARGUMENT', `${op}: dtypes differ (${a.dtype} vs ${b.dtype})`);
}

function normAxis(op: string, axis: number, rank: number): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= rank) {
    throw new TensorError('INVALID_ARGUMENT', `${op}: axis ${axis} is out of range for a rank-${rank} tensor`);
  }
  return ax;
}
