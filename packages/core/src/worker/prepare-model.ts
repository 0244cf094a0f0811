/**
 * Model preparation in the inference worker: turns a load request into a ready ORT session. Picks the
 * thread pool size, reuses ONNX Runtime's optimised form of a large model from the disk cache when one
 * exists, applies initializer overrides and appended graphs, and writes the optimised form for the next
 * process. The request handler (`server.ts`) only pools what this returns.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { sessionKey } from '../backend/model-key.js';
import type { OrtSession } from '../backend/onnx.js';
import { createSession, ortVersion, sessionPorts } from '../backend/onnx.js';
import {
  commitCached,
  dropCached,
  optimizedCacheDir,
  optimizedModelPath,
  sourceDigest,
  temporaryPath,
  useCached,
} from '../backend/optimized-cache.js';
import type { DeviceName, ModelOptions, ModelPortInfo } from '../tensor/types.js';
import { PRIVATE_FOLDER_MODE } from '../util/private-file.js';

/** A ready session with its declared ports. */
export interface PreparedSession {
  readonly session: OrtSession;
  readonly inputs: readonly ModelPortInfo[];
  readonly outputs: readonly ModelPortInfo[];
  /** Whether the session was created from the optimised-model cache. */
  readonly fromCache: boolean;
}

/** Where and how a model is prepared. */
export interface PrepareContext {
  readonly device: DeviceName;
  /** Intra-op threads for large models whose options set none (ORT's default when undefined). */
  readonly defaultThreads: number | undefined;
  /** The session's pool key (device, options and the source's identity). */
  readonly key: string;
  /** Profile the session (see `SessionConfig.profilePrefix`). */
  readonly profilePrefix?: string;
}

/**
 * Models smaller than this (op graphs, tiny helpers) get one intra-op thread unless asked otherwise. Every
 * ORT session owns its own thread pool, whose threads spin after each run: with a multi-threaded pool per
 * small graph, those spinning threads took the cores the denoiser needed next (STUNet calls 1.5x slower
 * between update graphs, bench/workflows.mjs). Elementwise graphs gain nothing from a second thread.
 */
const SMALL_MODEL_BYTES = 1 << 20;

/** Creates the session for `source` with `options`; rejects with ORT's coded load error. */
export async function prepareModel(
  source: string | Uint8Array,
  options: ModelOptions,
  context: PrepareContext,
): Promise<PreparedSession> {
  const level = options.graphOptimizationLevel ?? 'all';
  const small = (await sourceSize(source)) < SMALL_MODEL_BYTES;
  const config = {
    device: context.device,
    graphOptimizationLevel: level,
    intraOpNumThreads: options.intraOpNumThreads ?? (small ? 1 : context.defaultThreads),
    ...(context.profilePrefix !== undefined ? { profilePrefix: context.profilePrefix } : {}),
  };
  // Large CPU models come from the optimised-model cache when this session was made before (by any
  // process); small op graphs optimise in a few milliseconds and are not worth a file.
  const cacheDir = context.device === 'cpu' && level !== 'disabled' && !small ? optimizedCacheDir() : undefined;
  // Keyed by the source's bytes, not its path: a tampered file never meets the optimised form of the good one.
  const cached =
    cacheDir === undefined
      ? undefined
      : optimizedModelPath(
          cacheDir,
          sessionKey(`sha256:${await sourceDigest(source)}`, context.device, options, context.defaultThreads),
          ortVersion(),
        );
  if (cached !== undefined && (await useCached(cached))) {
    try {
      const session = await createSession(cached, { ...config, graphOptimizationLevel: 'disabled' });
      return { session, ...sessionPorts(session), fromCache: true };
    } catch {
      await dropCached(cached); // damaged or from another build: make it afresh below
    }
  }
  const model = await rewrittenModel(source, options, context.device);
  const writable =
    cacheDir !== undefined &&
    (await mkdir(cacheDir, { recursive: true, mode: PRIVATE_FOLDER_MODE }).then(
      () => true,
      () => false,
    ));
  const temporary = cached !== undefined && writable ? temporaryPath(cached) : undefined;
  let session: OrtSession;
  try {
    session = await createSession(
      model,
      temporary === undefined ? config : { ...config, optimizedModelFilePath: temporary },
    );
  } catch (error) {
    if (temporary === undefined) throw error;
    // Perhaps only the cache file could not be written: try once without it.
    await dropCached(temporary);
    session = await createSession(model, config);
  }
  if (temporary !== undefined) await commitCached(temporary, cached!);
  return { session, ...sessionPorts(session), fromCache: false };
}

async function sourceSize(source: string | Uint8Array): Promise<number> {
  if (typeof source !== 'string') return source.byteLength;
  return (await stat(source).catch(() => undefined))?.size ?? Number.POSITIVE_INFINITY;
}

/**
 * The model with its initializer overrides applied, its appended graph joined and, on webgpu, the WebGPU EP
 * workarounds applied (backend/webgpu-workarounds.ts); the source when none applies.
 */
async function rewrittenModel(
  source: string | Uint8Array,
  options: ModelOptions,
  device: DeviceName,
): Promise<string | Uint8Array> {
  let model: string | Uint8Array = source;
  const bytesOf = async (m: string | Uint8Array) => (typeof m === 'string' ? new Uint8Array(await readFile(m)) : m);
  if (options.initializerOverrides !== undefined && Object.keys(options.initializerOverrides).length > 0) {
    // Loaded on first use (they bring onnx-proto): a worker that never rewrites a model starts faster.
    const { applyInitializerOverrides } = await import('../backend/initializers.js');
    model = applyInitializerOverrides(await bytesOf(model), options.initializerOverrides);
  }
  if (options.appendGraph !== undefined) {
    const { appendGraph } = await import('../backend/append-graph.js');
    model = appendGraph(await bytesOf(model), options.appendGraph);
  }
  if (device === 'webgpu') {
    const { applyWebgpuWorkarounds } = await import('../backend/webgpu-workarounds.js');
    model = applyWebgpuWorkarounds(await bytesOf(model)) ?? model;
  }
  return model;
}
