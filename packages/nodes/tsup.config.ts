import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  // The host's copy of core must be the one plugins use: two copies would mean two registries' types.
  external: ['@kinegraph/core', '@kinegraph/core/sdk'],
  // The codecs and the tokenizer are bundled (tree-shaken) rather than loaded file by file from
  // node_modules at every start: see packages/core/tsup.config.ts. They stay dependencies for their types.
  noExternal: ['fast-png', 'gifenc', 'omggif', '@huggingface/tokenizers'],
  banner: {
    js: "import { createRequire as __kinegraphCreateRequire } from 'node:module'; const require = __kinegraphCreateRequire(import.meta.url);",
  },
});
