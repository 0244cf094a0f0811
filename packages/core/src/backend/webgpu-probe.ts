/**
 * Finds out whether WebGPU works here, and on which adapter, in a child process.
 *
 * A child, not this thread: asking a GPU driver for a device is the one step of a run that native code can
 * fail by aborting the process (a broken driver, a Dawn assertion), and an abort in the inference worker
 * would take the CLI or the editor's server down with no coded error. The child (`device-probe.js`, see
 * `device-probe-main.ts`) describes the adapter through Dawn's Node bindings (the optional `webgpu` package:
 * vendor, architecture, description, and whether it is a software fallback), then creates a WebGPU session
 * with ONNX Runtime, runs it, and reads the result back the way the store does. Whatever happens to the
 * child, this side gets an answer.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GpuAdapterInfo } from '../tensor/types.js';

/** What the probe found. */
export interface WebgpuProbe {
  /** ONNX Runtime ran a WebGPU session here and read its output back correctly. */
  readonly usable: boolean;
  /** Why not, when not usable. */
  readonly why?: string;
  /** The adapter, when Dawn's bindings could describe it. */
  readonly adapter?: GpuAdapterInfo;
  /** Why the adapter could not be described, when it was not. */
  readonly adapterWhy?: string;
}

/** The line the child prints on stdout: JSON after this marker. */
export const PROBE_MARKER = 'kinegraph-device-probe:';

/** Lavapipe needs ≈ 5 s for its first session; a hung driver must not hang a run start for ever. */
const PROBE_TIMEOUT_MS = 90_000;

let probe: Promise<WebgpuProbe> | undefined;

/** Probes once per process (the answer cannot change while it runs). */
export function probeWebgpu(): Promise<WebgpuProbe> {
  probe ??= runProbe();
  return probe;
}

function probeScript(): string {
  // Tests stand in a probe that crashes, to check that a crash is a coded error (never an abort here).
  const override = process.env.KINEGRAPH_DEVICE_PROBE_SCRIPT;
  if (override) return override;
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../dist/device-probe.js', here) // run from sources (vitest): the package's build
    : new URL('./device-probe.js', here); // dist/<chunk>.js → dist/device-probe.js
  return fileURLToPath(url);
}

function runProbe(): Promise<WebgpuProbe> {
  const script = probeScript();
  if (!existsSync(script)) {
    return Promise.resolve({
      usable: false,
      why: `the device probe ${script} is missing; run \`npm run build -w @kinegraph/core\``,
    });
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PROBE_TIMEOUT_MS,
      env: process.env,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-4000);
    });
    child.on('error', (e) => resolve({ usable: false, why: `the device probe could not start: ${e.message}` }));
    child.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(PROBE_MARKER));
      if (line !== undefined) {
        try {
          resolve(JSON.parse(line.slice(PROBE_MARKER.length)) as WebgpuProbe);
          return;
        } catch {
          // fall through: report how the child ended
        }
      }
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      const last = lastMeaningfulLine(err);
      resolve({
        usable: false,
        why: `probing WebGPU ${signal === 'SIGTERM' ? 'timed out' : 'crashed'}: the probe process ${how}${last ? ` (${last})` : ''}`,
      });
    });
  });
}

/** The last stderr line that is not one of Dawn's routine limit warnings. */
function lastMeaningfulLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('Warning: maxDynamic'));
  return lines.at(-1)?.slice(0, 300) ?? '';
}
