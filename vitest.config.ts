import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The plugin template (packages/core/templates/plugin) is tested as the plugin it scaffolds.
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/core/templates/*/src/**/*.test.ts',
      'plugins/*/src/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
