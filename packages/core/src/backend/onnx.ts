/**
 * The ONNX Runtime backend: the only module of Kinegraph that imports `onnxruntime-node`.
 *
 * It maps Kinegraph devices to ORT execution providers, creates sessions, wraps tensor data as ORT
 * tensors and reads them back. It runs inside the inference worker only: ORT's `session.run` blocks
 * the calling thread, so calling it from the main thread would freeze the event loop.
 */
import { createRequire } from 'node:module';
import type * as OrtModule from 'onnxruntime-node';
import { buildGraph } from '../graph/builder.js';
import { isDType, ownedCopy } from '../tensor/dtype.js';
import { DeviceUnavailableError, TensorError } from '../tensor/errors.js';
import type {
  DeviceName,
  DeviceRequest,
  DType,
  GpuAdapterInfo,
  ModelPortInfo,
  TensorData,
  TensorLocation,
} from '../tensor/types.js';
import { releaseMemory } from '../util/release-memory.js';
import { probeWebgpu, type WebgpuProbe } from './webgpu-probe.js';

// Loaded with require, not `import`: onnxruntime-node is CommonJS, and an ESM import of it has Node scan
// every one of its files for named exports first (≈ 70 ms of the worker's start, on the critical path of
// a `kinegraph run`). Types come from the type-only import above.
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof OrtModule;

/** An ORT inference session (opaque outside the worker). */
export type OrtSession = OrtModule.InferenceSession;
/** An ORT tensor, in CPU memory or (on webgpu) a GPU buffer. */
export type OrtTensor = OrtModule.Tensor;

/** The outcome of resolving a {@link DeviceRequest}. */
export interface DeviceResolution {
  readonly device: DeviceName;
  /** Human-readable reason for the choice, e.g. why `auto` fell back to cpu. */
  readonly reason: string;
  /** Every device usable in this process. */
  readonly available: readonly DeviceName[];
  /** The WebGPU adapter, when one was probed and described (also when `auto` chose cpu over it). */
  readonly adapter?: GpuAdapterInfo;
}

/**
 * Resolves a device request. `cpu` never probes the GPU; `webgpu` throws {@link DeviceUnavailableError}
 * (code `DEVICE_UNAVAILABLE`, listing the available devices) when it cannot be used; `auto` picks webgpu
 * only on a hardware adapter — a software one (Mesa's lavapipe, SwiftShader) is slower than ONNX Runtime's
 * CPU execution provider on the same cores — and says why.
 */
export async function resolveDevice(request: DeviceRequest): Promise<DeviceResolution> {
  if (request === 'cpu') return { device: 'cpu', reason: 'cpu was requested', available: ['cpu'] };
  if (request !== 'webgpu' && request !== 'auto') {
    throw new DeviceUnavailableError(request, ['cpu'], 'unknown device name');
  }
  const listed = ort.listSupportedBackends().some((b) => b.name === 'webgpu' && b.bundled);
  const probe: WebgpuProbe = listed
    ? await probeWebgpu()
    : { usable: false, why: 'this onnxruntime-node build has no WebGPU execution provider' };
  const available: DeviceName[] = probe.usable ? ['webgpu', 'cpu'] : ['cpu'];
  const adapter = probe.adapter;
  const withAdapter = adapter === undefined ? {} : { adapter };
  if (request === 'webgpu') {
    if (!probe.usable) throw new DeviceUnavailableError('webgpu', available, probe.why ?? 'unavailable');
    const what = adapter === undefined ? 'an adapter that could not be described' : describeAdapter(adapter);
    const slow = adapter?.software
      ? ' (a software adapter: expect it to be slower than --device cpu; see the README for a GPU driver)'
      : '';
    return { device: 'webgpu', reason: `webgpu was requested; adapter: ${what}${slow}`, available, ...withAdapter };
  }
  if (!probe.usable) {
    return {
      device: 'cpu',
      reason: `auto: chose cpu because webgpu is unavailable (${probe.why ?? 'unknown reason'})`,
      available,
    };
  }
  if (adapter === undefined) {
    return {
      device: 'cpu',
      reason: `auto: chose cpu because the WebGPU adapter could not be described, so it may be a software one (${probe.adapterWhy ?? 'unknown reason'}); pass --device webgpu to use it anyway`,
      available,
    };
  }
  if (adapter.software) {
    return {
      device: 'cpu',
      reason: `auto: chose cpu because the only WebGPU adapter is a software one (${describeAdapter(adapter)}), slower than the CPU execution provider; pass --device webgpu to use it anyway`,
      available,
      adapter,
    };
  }
  return {
    device: 'webgpu',
    reason: `auto: chose webgpu on a hardware adapter (${describeAdapter(adapter)})`,
    available,
    adapter,
  };
}

/** One line naming an adapter: description, then vendor and architecture. */
export function describeAdapter(a: GpuAdapterInfo): string {
  const parts = [a.vendor, a.architecture, a.software ? 'software' : ''].filter(
    (p, i, all) => p !== '' && all.indexOf(p) === i,
  );
  const name = a.description || a.device || 'unnamed adapter';
  return parts.length > 0 ? `${name} [${parts.join(', ')}]` : name;
}

/** Session settings that the backend turns into ORT session options. */
export interface SessionConfig {
  readonly device: DeviceName;
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  readonly intraOpNumThreads: number | undefined;
  /** Where ORT writes the model as it optimised it (see backend/optimized-cache.ts). */
  readonly optimizedModelFilePath?: string;
  /**
   * Turns ORT's profiler on: every node's run is written, with the execution provider that ran it, to
   * `<profilePrefix>_<time>.json` once {@link endProfiling} is called (see backend/placement.ts).
   */
  readonly profilePrefix?: string;
  /** On webgpu: return outputs in CPU memory instead of GPU buffers (readback sessions). */
  readonly outputsOnCpu?: boolean;
}

/** The onnxruntime-node version (part of the optimised-model cache key). */
export function ortVersion(): string {
  return ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';
}

/**
 * Creates a session from a file path or model bytes. On webgpu, outputs stay in GPU buffers
 * (`preferredOutputLocation: 'gpu-buffer'`) so they can feed the next session without a round trip
 * through host memory.
 */
export async function createSession(source: string | Uint8Array, cfg: SessionConfig): Promise<OrtSession> {
  const options: OrtModule.InferenceSession.SessionOptions = {
    executionProviders: cfg.device === 'webgpu' ? ['webgpu'] : ['cpu'],
    graphOptimizationLevel: cfg.graphOptimizationLevel,
    ...(cfg.intraOpNumThreads !== undefined ? { intraOpNumThreads: cfg.intraOpNumThreads } : {}),
    ...(cfg.device === 'webgpu' && cfg.outputsOnCpu !== true ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    // ORT warns on stderr that such a file is specific to this hardware (the cache key holds the CPU model),
    // and that a WebGPU session keeps shape arithmetic on the CPU (by design: see SessionPlacement). Neither is
    // news to a user; errors still print.
    ...(cfg.optimizedModelFilePath !== undefined || cfg.device === 'webgpu' ? { logSeverityLevel: 3 as const } : {}),
    ...(cfg.optimizedModelFilePath !== undefined ? { optimizedModelFilePath: cfg.optimizedModelFilePath } : {}),
    ...(cfg.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: cfg.profilePrefix } : {}),
  };
  try {
    return typeof source === 'string'
      ? await ort.InferenceSession.create(source, options)
      : await ort.InferenceSession.create(source, options);
  } catch (err) {
    throw new TensorError(
      'MODEL_LOAD_FAILED',
      `ONNX Runtime could not create a session on ${cfg.device}: ${firstLine(err)}`,
    );
  }
}

/** Declared inputs and outputs of a session (dims may be symbolic names; `'?'` for unnamed dynamic dims). */
export function sessionPorts(session: OrtSession): { inputs: ModelPortInfo[]; outputs: ModelPortInfo[] } {
  const convert = (m: OrtModule.InferenceSession.ValueMetadata): ModelPortInfo =>
    m.isTensor
      ? { name: m.name, dtype: m.type, dims: m.shape.map((d) => (d === '' ? '?' : d)) }
      : { name: m.name, dtype: 'non-tensor', dims: [] };
  return { inputs: session.inputMetadata.map(convert), outputs: session.outputMetadata.map(convert) };
}

/** Wraps host data as an ORT tensor without copying it. */
export function makeTensor(dtype: DType, data: TensorData, dims: readonly number[]): OrtTensor {
  // ORT's constructor is overloaded per dtype; the store has already checked that data fits dtype.
  return new ort.Tensor(dtype, data as never, dims);
}

/** Runs a session. Blocks this thread for the duration of the run (hence: worker only). */
export async function runSession(
  session: OrtSession,
  feeds: Record<string, OrtTensor>,
  outputNames: readonly string[],
): Promise<Record<string, OrtTensor>> {
  try {
    return await session.run(feeds, outputNames);
  } catch (err) {
    throw new TensorError('RUN_FAILED', `ONNX Runtime run failed: ${firstLine(err)}`);
  }
}

/** Dims, dtype and location of an ORT tensor; rejects element types the store does not support. */
export function describeTensor(t: OrtTensor): { dims: number[]; dtype: DType; location: TensorLocation } {
  if (!isDType(t.type)) {
    throw new TensorError(
      'UNSUPPORTED_DTYPE',
      `model produced a ${t.type} tensor; supported: float32, float16, int64, int32, uint8, bool`,
    );
  }
  const location: TensorLocation = t.location === 'gpu-buffer' ? 'gpu-buffer' : 'cpu';
  return { dims: [...t.dims], dtype: t.type, location };
}

/**
 * Copies a tensor's data into a fresh typed array that owns its buffer, ready to be transferred to the
 * main thread. A CPU tensor is copied (the worker keeps the original alive for later runs). A GPU tensor is
 * read back by running it through a one-node WebGPU session whose output lives in CPU memory
 * ({@link readbackSession}): onnxruntime-node 1.30's own `Tensor.getData()` on a `gpu-buffer` tensor calls
 * a download function that its native binding leaves unimplemented, and that stub throws a C string no
 * handler catches, which aborts the whole process (docs/webgpu-readback-abort.mjs reproduces it). Never
 * call `getData()` on a GPU tensor.
 */
export async function readTensor(t: OrtTensor): Promise<TensorData> {
  if (t.location !== 'gpu-buffer') return ownedCopy(t.data as TensorData);
  if (!isDType(t.type)) throw new TensorError('UNSUPPORTED_DTYPE', `cannot read back a ${t.type} tensor`);
  const session = await readbackSession(t.type);
  const out = await runSession(session, { x: t }, ['y']);
  const y = out.y!;
  if (y.location === 'gpu-buffer') {
    y.dispose();
    throw new TensorError('INTERNAL', 'the readback session returned a GPU tensor instead of CPU memory');
  }
  try {
    return ownedCopy(y.data as TensorData);
  } finally {
    // The readback's own CPU output is scratch: freed now, not at this thread's next collection.
    disposeTensor(y);
  }
}

/** Readback sessions by dtype: Identity graphs on the WebGPU EP whose outputs ORT copies into CPU memory. */
const readbackSessions = new Map<DType, { session: Promise<OrtSession>; profilePrefix?: string }>();
let readbackProfilePrefix: ((dtype: DType) => string) | undefined;

/** Profiles the readback sessions made from now on (placement reports); `prefix` names each one's file. */
export function profileReadbacks(prefix: (dtype: DType) => string): void {
  readbackProfilePrefix = prefix;
}

/** The readback sessions made so far, with their profile prefix when profiled, for placement reports. */
export async function readbackSessionList(): Promise<
  Array<{ dtype: DType; session: OrtSession; profilePrefix: string | undefined }>
> {
  const list: Array<{ dtype: DType; session: OrtSession; profilePrefix: string | undefined }> = [];
  for (const [dtype, entry] of readbackSessions) {
    const session = await entry.session.catch(() => undefined);
    if (session !== undefined) list.push({ dtype, session, profilePrefix: entry.profilePrefix });
  }
  return list;
}

function readbackSession(dtype: DType): Promise<OrtSession> {
  const known = readbackSessions.get(dtype);
  if (known !== undefined) return known.session;
  const graph = buildGraph(`readback_${dtype}`, (g) => g.output('y', g.input('x', dtype)));
  const profilePrefix = readbackProfilePrefix?.(dtype);
  const session = createSession(graph.bytes, {
    device: 'webgpu',
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 1,
    outputsOnCpu: true,
    ...(profilePrefix !== undefined ? { profilePrefix } : {}),
  });
  readbackSessions.set(dtype, { session, ...(profilePrefix !== undefined ? { profilePrefix } : {}) });
  session.catch(() => readbackSessions.delete(dtype));
  return session;
}

/**
 * Frees a tensor's memory now: a GPU buffer is destroyed, and CPU data is released at once rather than at
 * the worker's next garbage collection, which an idle worker may not reach for as long as it stays idle
 * (see `util/release-memory.ts`). Only for tensors nothing else reads: every CPU tensor the worker holds owns
 * its data (uploads arrive in a buffer of their own, and ORT copies each output into a new one).
 */
export function disposeTensor(t: OrtTensor): void {
  if (t.location === 'gpu-buffer') t.dispose();
  else if (t.location === 'cpu') releaseMemory(t.data as TensorData);
}

/** Stops a profiled session's profiler and writes its file (see {@link SessionConfig.profilePrefix}). */
export function endProfiling(s: OrtSession): void {
  s.endProfiling();
}

/** Releases a session's native resources. */
export async function releaseSession(s: OrtSession): Promise<void> {
  await s.release();
}

/** The informative part of an ORT error: its first line, minus the C++ source location and failed-check text. */
function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n')[0]!.trim();
  const afterCheck = line.split(' was false. ');
  return (afterCheck.length > 1 ? afterCheck[afterCheck.length - 1]! : line).trim();
}
