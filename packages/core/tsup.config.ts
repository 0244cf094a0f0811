import { defineConfig } from 'tsup';

// The inference worker is its own entry: it is started with `new Worker(url)` and must be a file of its own.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    sdk: 'src/sdk/index.ts',
    cli: 'src/cli/main.ts',
    'inference-worker': 'src/worker/inference-worker.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'src/index.ts', sdk: 'src/sdk/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: true,
  external: ['onnxruntime-node'],
});
