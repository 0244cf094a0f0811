import { defineConfig } from 'vitest/config';

// Runner for the quality evaluation (run.mjs): vitest only because it runs the nodes' TypeScript sources
// directly. Kept apart from the root config so `npm test` never generates videos.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['tests/quality/quality.eval.ts'],
    testTimeout: 6 * 60 * 60 * 1000,
    pool: 'forks',
    fileParallelism: false,
  },
});
