import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The web app: web/index.html → dist/web, which the server serves. Relative asset URLs so it also works
// behind a path prefix.
export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // litegraph evaluates user-typed widget expressions with eval(); it is theirs, not ours, to change.
      onwarn(warning, warn) {
        if (warning.code === 'EVAL') return;
        warn(warning);
      },
    },
  },
  resolve: {
    // The app takes values from core (the workflow format tag) but must not bundle the Node runtime: in the
    // browser, `@kinegraph/core` is its import-free format module. Type imports are erased either way.
    alias: [
      {
        find: /^@kinegraph\/core$/,
        replacement: fileURLToPath(new URL('../core/src/workflow/format.ts', import.meta.url)),
      },
    ],
  },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8188', ws: true } } },
});
