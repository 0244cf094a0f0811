import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  // The host's copy of core must be the one the plugin uses: a bundled copy would be a second SDK.
  external: ['@kinegraph/core', '@kinegraph/core/sdk'],
});
