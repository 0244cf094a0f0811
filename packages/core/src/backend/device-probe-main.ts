/**
 * Entry point of the device probe (built to `dist/device-probe.js`, started by `webgpu-probe.ts` as a child
 * process). Describes the WebGPU adapter, then checks the path the store uses on webgpu: a session whose
 * output stays in a GPU buffer, read back through a readback session. Prints one line: the marker and a JSON
 * {@link WebgpuProbe}; then exits without waiting for native teardown.
 */
import { buildGraph } from '../graph/builder.js';
import { describeWebgpuAdapter } from './adapter-info.js';
import { createSession, disposeTensor, makeTensor, readTensor, releaseSession, runSession } from './onnx.js';
import { PROBE_MARKER, type WebgpuProbe } from './webgpu-probe.js';

async function main(): Promise<WebgpuProbe> {
  const described = await describeWebgpuAdapter();
  const adapter = described.adapter !== undefined ? { adapter: described.adapter } : {};
  const adapterWhy = described.why !== undefined ? { adapterWhy: described.why } : {};
  try {
    const graph = buildGraph('webgpu_probe', (g) => {
      const x = g.input('x', 'float32', [4]);
      g.output('y', g.add(x, 1));
    });
    const session = await createSession(graph.bytes, {
      device: 'webgpu',
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
    });
    const out = await runSession(session, { x: makeTensor('float32', Float32Array.of(1, 2, 3, 4), [4]) }, ['y']);
    const y = out.y!;
    const data = Array.from((await readTensor(y)) as Float32Array);
    disposeTensor(y);
    await releaseSession(session);
    if (data.join(',') !== '2,3,4,5') {
      return {
        usable: false,
        why: `a WebGPU test run computed [${data.join(', ')}] instead of [2, 3, 4, 5]`,
        ...adapter,
        ...adapterWhy,
      };
    }
    return { usable: true, ...adapter, ...adapterWhy };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      usable: false,
      why: `creating a WebGPU session failed: ${message.split('\n')[0]}`,
      ...adapter,
      ...adapterWhy,
    };
  }
}

main().then(
  (result) => {
    process.stdout.write(`${PROBE_MARKER}${JSON.stringify(result)}\n`, () => process.exit(0));
  },
  (error: unknown) => {
    process.stdout.write(`${PROBE_MARKER}${JSON.stringify({ usable: false, why: String(error) })}\n`, () =>
      process.exit(0),
    );
  },
);
