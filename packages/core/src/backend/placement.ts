/**
 * Reads ONNX Runtime's profiler output into a {@link SessionPlacement}: which execution provider ran each
 * node, and how many bytes the Memcpy nodes that ORT inserts between providers moved. Diagnostics only:
 * a store profiles its sessions when it is started with `profileDir` (benchmarks, the transfer tests).
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SessionPlacement } from '../tensor/types.js';

interface ProfileEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly dur?: number;
  readonly args?: { readonly provider?: string; readonly op_name?: string; readonly output_size?: string };
}

/** Reads and deletes the profile file(s) ORT wrote for `prefix`, and sums them up under `label`. */
export async function readPlacement(prefix: string, label: string): Promise<SessionPlacement> {
  const dir = dirname(prefix);
  const stem = `${basename(prefix)}_`;
  const files = (await readdir(dir).catch(() => [] as string[])).filter(
    (f) => f.startsWith(stem) && f.endsWith('.json'),
  );
  const events: ProfileEvent[] = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      events.push(...(JSON.parse(await readFile(path, 'utf8')) as ProfileEvent[]));
    } catch {
      // a file cut short (the process ended mid-write) tells nothing reliable: skip it
    }
    await rm(path, { force: true });
  }
  return summarize(label, events);
}

/** Sums profile events up per execution provider. */
export function summarize(label: string, events: readonly ProfileEvent[]): SessionPlacement {
  const nodeRuns: Record<string, number> = {};
  const kernelMs: Record<string, number> = {};
  const cpuOps = new Set<string>();
  let runs = 0;
  let gpuToCpuBytes = 0;
  let cpuToGpuBytes = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') runs++;
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.args?.provider === undefined) continue;
    const provider = e.args.provider;
    const op = e.args.op_name ?? '?';
    nodeRuns[provider] = (nodeRuns[provider] ?? 0) + 1;
    kernelMs[provider] = (kernelMs[provider] ?? 0) + (e.dur ?? 0) / 1000;
    const bytes = Number(e.args.output_size ?? 0);
    if (op === 'MemcpyToHost') gpuToCpuBytes += bytes;
    else if (op === 'MemcpyFromHost') cpuToGpuBytes += bytes;
    else if (provider === 'CPUExecutionProvider') cpuOps.add(op);
  }
  return { label, runs, nodeRuns, kernelMs, cpuOps: [...cpuOps].sort(), gpuToCpuBytes, cpuToGpuBytes };
}
