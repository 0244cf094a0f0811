/**
 * Pool keys for inference sessions: the same model (by content, or by file identity), on the same
 * device with the same options, maps to the same key, so the worker reuses one session.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TensorError } from '../tensor/errors.js';
import type { DeviceName, ModelOptions } from '../tensor/types.js';
import { hashAppendedGraph, hashOverrides } from './option-hashes.js';

/**
 * Identifies a model source. Bytes are hashed (sha256); a path is identified by its resolved path,
 * modification time and size — cheap for multi-GB files, and a rewritten file gets a new key.
 */
export async function modelSourceKey(source: string | Uint8Array): Promise<string> {
  if (typeof source !== 'string') {
    return `sha256:${createHash('sha256').update(source).digest('hex')}`;
  }
  const abs = resolve(source);
  try {
    const st = await stat(abs);
    return `file:${abs}:${st.mtimeMs}:${st.size}`;
  } catch (err) {
    throw new TensorError('MODEL_LOAD_FAILED', `cannot read model file '${abs}': ${(err as Error).message}`, {
      path: abs,
    });
  }
}

/** The full pool key: source, device and every option that changes the session (threads, level, overrides, appended graph). */
export function sessionKey(
  sourceKey: string,
  device: DeviceName,
  options: ModelOptions,
  defaultThreads: number | undefined,
): string {
  const parts = JSON.stringify({
    sourceKey,
    device,
    level: options.graphOptimizationLevel ?? 'all',
    threads: options.intraOpNumThreads ?? defaultThreads ?? 0,
    overrides: hashOverrides(options.initializerOverrides),
    append: hashAppendedGraph(options.appendGraph),
  });
  return `model:${createHash('sha256').update(parts).digest('hex').slice(0, 32)}`;
}
