// Four tiers, one command (`npm test` runs them all, in this order):
// - unit: `*.test.ts`, pure logic and the runtime through its test driver; no stack, no Java,
//   seconds (`npm run test:unit`, the edit–run loop).
// - integration: `*.int.test.ts`, one processor or module against the real Kafka broker, schema
//   registry, PostgreSQL and EVM.
// - e2e: `*.e2e.test.ts`, the whole pipeline as processes, kills included.
// - chaos: `*.chaos.test.ts`, failover on a three-broker cluster of its own, last
//   (`npm run test:chaos` runs it alone).
// The stack is started by the global setup of the tiers that need it, once per run however many of
// them run (test/global-setup.ts shares it), and never for the unit tier.
import { defineConfig } from 'vitest/config';

const stackTiers = ['**/*.int.test.ts', '**/*.e2e.test.ts', '**/*.chaos.test.ts'];

export default defineConfig({
  test: {
    exclude: ['node_modules/**', '.cache/**', 'dist/**', 'console/dist/**'],
    pool: 'forks',
    testTimeout: 60_000,
    teardownTimeout: 60_000,
    // A test that only passes on a retry is a defect: never retry.
    retry: 0,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: ['node_modules/**', '.cache/**', 'dist/**', ...stackTiers],
          // Pure tests share their workers' module cache instead of a fresh module graph per file:
          // the tier took 86 s on two cores, nearly all of it importing, and takes 23 s this way.
          // Nothing here may keep state between files (no stack, no process globals).
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // One file at a time: the files share one broker, one database and fixed consumer
          // groups (router, accumulator), and the global micro-batch window batches every pending
          // payment.
          fileParallelism: false,
          hookTimeout: 240_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          fileParallelism: false,
          hookTimeout: 240_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          include: ['**/*.chaos.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          fileParallelism: false,
          hookTimeout: 600_000,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
