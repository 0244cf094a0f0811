import { defineConfig } from 'tsup';

// The inference worker is its own entry: it is started with `new Worker(url)` and must be a file of its own.
//
// The pure-JS dependencies are bundled into dist (tree-shaken) instead of imported from node_modules: Node
// loads rxjs, TypeBox, ajv and onnx-proto as some 600 separate files, half of them CommonJS it scans for
// exports, which was ≈ 170 ms of every `kinegraph` start (bench/README.md). Copies stay interoperable:
// TypeBox marks schemas with `Symbol.for` keys and rxjs operators work on any Observable. They stay listed
// as dependencies for their types (the .d.ts files import them). onnxruntime-node is native: never bundled.
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
  noExternal: ['rxjs', '@sinclair/typebox', 'ajv', 'onnx-proto'],
  // Bundled CommonJS code (ajv, protobufjs) calls `require`; ESM output has none unless we make one.
  banner: { js: "import { createRequire as __kinegraphCreateRequire } from 'node:module'; const require = __kinegraphCreateRequire(import.meta.url);" },
});
