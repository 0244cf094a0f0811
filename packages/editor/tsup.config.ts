import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  // Only the server and shared code: the web app is built by Vite into dist/web, which `clean` must not wipe
  // when tsup runs first (it does: `tsup && vite build`).
  clean: true,
  external: ['@kinegraph/core', '@kinegraph/nodes', 'ws', 'bullmq', 'ioredis'],
});
