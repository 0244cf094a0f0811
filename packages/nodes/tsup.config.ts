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
});
