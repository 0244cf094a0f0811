/**
 * Describes the WebGPU adapter through Dawn's own Node bindings (the optional npm package `webgpu`, which
 * is the Dawn that Chromium ships, like the one inside onnxruntime-node). ONNX Runtime's Node API says
 * nothing about the adapter it picked; both ask Dawn for a high-performance adapter, so both get the same
 * one: a discrete GPU before an integrated one, and a software (CPU) adapter only when nothing else exists.
 *
 * Runs in the device probe's child process only (`device-probe-main.ts`): it loads a second copy of Dawn.
 */
import type { GpuAdapterInfo } from '../tensor/types.js';

interface DawnAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
interface DawnModule {
  create(flags: string[]): {
    requestAdapter(options?: { powerPreference?: string }): Promise<{ readonly info: DawnAdapterInfo } | null>;
  };
  globals: Record<string, unknown>;
}

/** Software Vulkan/D3D implementations, by the names their drivers report. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|\bwarp\b/i;

/** The adapter Dawn picks, or why it cannot be described. */
export async function describeWebgpuAdapter(): Promise<{ adapter?: GpuAdapterInfo; why?: string }> {
  let dawn: DawnModule;
  try {
    // A variable keeps bundlers from resolving the optional package at build time.
    const name = 'webgpu';
    dawn = (await import(name)) as DawnModule;
  } catch (error) {
    return { why: `the optional package 'webgpu' (Dawn for Node) is not installed: ${firstLine(error)}` };
  }
  try {
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter === null) return { why: 'Dawn found no WebGPU adapter' };
    return { adapter: toAdapterInfo(adapter.info) };
  } catch (error) {
    return { why: `Dawn could not describe the adapter: ${firstLine(error)}` };
  }
}

/** Normalises Dawn's GPUAdapterInfo and decides whether it is a software adapter. */
export function toAdapterInfo(info: DawnAdapterInfo): GpuAdapterInfo {
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const software =
    info.isFallbackAdapter === true ||
    architecture.toLowerCase() === 'software' ||
    SOFTWARE_NAMES.test(`${device} ${description}`);
  return { vendor, architecture, device, description, software };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
}
