/**
 * The ONNX Runtime backend: the only module of Kinegraph that imports `onnxruntime-node`.
 *
 * It maps Kinegraph devices to ORT execution providers, creates sessions, wraps tensor data as ORT
 * tensors and reads them back. It runs inside the inference worker only: ORT's `session.run` blocks
 * the calling thread, so calling it from the main thread would freeze the event loop.
 */
import { createRequire } from 'node:module';
import type * as OrtModule from 'onnxruntime-node';
import { isDType, ownedCopy } from '../tensor/dtype.js';
import { DeviceUnavailableError, TensorError } from '../tensor/errors.js';
import type { DeviceName, DeviceRequest, DType, ModelPortInfo, TensorData, TensorLocation } from '../tensor/types.js';

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
}

/** Order of preference for `auto`: the first available wins. */
const PREFERENCE: readonly DeviceName[] = ['webgpu', 'cpu'];

let probe: Promise<{ available: DeviceName[]; why: Partial<Record<DeviceName, string>> }> | undefined;

/**
 * Finds the usable devices. `cpu` always is; `webgpu` only when this ORT build bundles the WebGPU EP
 * and a session can actually be created on it — listing the EP is not enough, since creating the
 * session is what asks for a GPU adapter, and headless machines have none. Probed once per worker.
 */
export function probeDevices(): Promise<{ available: DeviceName[]; why: Partial<Record<DeviceName, string>> }> {
  probe ??= (async () => {
    const available: DeviceName[] = ['cpu'];
    const why: Partial<Record<DeviceName, string>> = {};
    const listed = ort.listSupportedBackends().some((b) => b.name === 'webgpu' && b.bundled);
    if (!listed) {
      why.webgpu = 'this onnxruntime-node build has no WebGPU execution provider';
    } else {
      const { buildGraph } = await import('../graph/builder.js');
      const tiny = buildGraph('webgpu_probe', (g) => {
        const x = g.input('x', 'float32', [1]);
        g.output('y', g.add(x, 1));
      });
      try {
        const s = await ort.InferenceSession.create(tiny.bytes, {
          executionProviders: ['webgpu'],
          logSeverityLevel: 4,
        });
        await s.release();
        available.unshift('webgpu');
      } catch (err) {
        why.webgpu = `creating a WebGPU session failed: ${firstLine(err)}`;
      }
    }
    return { available, why };
  })();
  return probe;
}

/**
 * Resolves a device request. `cpu` never probes the GPU; `webgpu` throws {@link DeviceUnavailableError}
 * (code `DEVICE_UNAVAILABLE`, listing the available devices) when it cannot be used; `auto` picks the
 * best available device and says why.
 */
export async function resolveDevice(request: DeviceRequest): Promise<DeviceResolution> {
  if (request === 'cpu') return { device: 'cpu', reason: 'cpu was requested', available: ['cpu'] };
  if (request !== 'webgpu' && request !== 'auto') {
    throw new DeviceUnavailableError(request, (await probeDevices()).available, 'unknown device name');
  }
  const { available, why } = await probeDevices();
  if (request === 'webgpu') {
    if (!available.includes('webgpu'))
      throw new DeviceUnavailableError('webgpu', available, why.webgpu ?? 'unavailable');
    return { device: 'webgpu', reason: 'webgpu was requested and an adapter was found', available };
  }
  const device = PREFERENCE.find((d) => available.includes(d)) ?? 'cpu';
  const reason =
    device === 'webgpu'
      ? 'auto: a WebGPU adapter is available'
      : `auto: fell back to cpu because webgpu is unavailable (${why.webgpu ?? 'unknown reason'})`;
  return { device, reason, available };
}

/** Session settings that the backend turns into ORT session options. */
export interface SessionConfig {
  readonly device: DeviceName;
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  readonly intraOpNumThreads: number | undefined;
  /** Where ORT writes the model as it optimised it (see backend/optimized-cache.ts). */
  readonly optimizedModelFilePath?: string;
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
    ...(cfg.device === 'webgpu' ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    // ORT warns on stderr that such a file is specific to this hardware; the cache key holds the CPU model.
    ...(cfg.optimizedModelFilePath !== undefined
      ? { optimizedModelFilePath: cfg.optimizedModelFilePath, logSeverityLevel: 3 as const }
      : {}),
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
 * Copies a tensor's data into a fresh typed array that owns its buffer, ready to be transferred to
 * the main thread. A CPU tensor is copied (the worker keeps the original alive for later runs); a GPU
 * tensor is downloaded, which already yields a fresh array.
 */
export async function readTensor(t: OrtTensor): Promise<TensorData> {
  if (t.location === 'gpu-buffer') return (await t.getData()) as TensorData;
  return ownedCopy(t.data as TensorData);
}

/** Frees a tensor's device memory now (GPU buffers); CPU tensors are left to the garbage collector. */
export function disposeTensor(t: OrtTensor): void {
  if (t.location === 'gpu-buffer') t.dispose();
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
