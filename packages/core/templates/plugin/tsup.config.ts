import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  // Use the host's @kinegraph/core, never a bundled copy: a second copy would be a second SDK.
  external: ['@kinegraph/core', '@kinegraph/core/sdk', '@kinegraph/core/testing'],
});
