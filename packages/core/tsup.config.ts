import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'tsup';

// rxjs's package maps Node to its CommonJS build, which esbuild cannot tree-shake (all 360 KB of it ended
// up in dist); its ES2015 build can be.
const rxjsEsm = join(dirname(createRequire(import.meta.url).resolve('rxjs/package.json')), 'dist/esm/index.js');

// `testing` is the entry plugin authors' tests import (`@kinegraph/core/testing`); it shares chunks with
// `index`, so a test's Runtime and the one the plugin's types come from are the same code.
//
// The inference worker is its own entry: it is started with `new Worker(url)` and must be a file of its own.
//
// The pure-JS dependencies are bundled into dist (tree-shaken) instead of imported from node_modules: Node
// loads rxjs, TypeBox and onnx-proto as hundreds of separate files, many of them CommonJS it scans for
// exports, which was ≈ 170 ms of every `kinegraph` start (bench/README.md). Copies stay interoperable:
// TypeBox marks schemas with `Symbol.for` keys and rxjs operators work on any Observable. They stay listed
// as dependencies for their types (the .d.ts files import them). onnxruntime-node is native: never bundled.
// ajv is not bundled either: it is required only when a validator is not in the disk cache
// (src/validate/ajv.ts).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    sdk: 'src/sdk/index.ts',
    testing: 'src/testing/index.ts',
    cli: 'src/cli/main.ts',
    'inference-worker': 'src/worker/inference-worker.ts',
    // Started as a child process: probing a GPU driver can abort the process that does it.
    'device-probe': 'src/backend/device-probe-main.ts',
    // The program isolated plugins run in (a process of its own per plugin package).
    'plugin-host': 'src/plugins/host/plugin-host.ts',
    // The worker thread that makes synchronous calls into plugin processes (migrations, memory declarations).
    'plugin-sync-worker': 'src/plugins/sync-worker.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'src/index.ts', sdk: 'src/sdk/index.ts', testing: 'src/testing/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: true,
  external: ['onnxruntime-node', 'ajv', 'webgpu'],
  noExternal: ['rxjs', '@sinclair/typebox', 'onnx-proto'],
  esbuildOptions(options) {
    options.alias = { ...options.alias, rxjs: rxjsEsm };
  },
  // Bundled CommonJS code (protobufjs) calls `require`; ESM output has none unless we make one.
  banner: {
    js: "import { createRequire as __kinegraphCreateRequire } from 'node:module'; const require = __kinegraphCreateRequire(import.meta.url);",
  },
});
