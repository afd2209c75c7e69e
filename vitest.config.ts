// One vitest run for every tier: `*.test.ts` (pure), `*.int.test.ts` (real Kafka, registry,
// PostgreSQL) and `*.e2e.test.ts` (whole pipeline). The global setup starts the real stack once.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.cache/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // One file at a time: the files share one broker, one database and fixed consumer groups
    // (router, accumulator), and the global micro-batch window batches every pending payment.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    // A test that only passes on a retry is a defect: never retry.
    retry: 0,
  },
});
