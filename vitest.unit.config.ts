// The fast lane: pure tests only (`*.test.ts`, no I/O), with no stack started — seconds, and no
// Java needed. `npm run test:unit` for the edit–run loop; `npm test` still runs every tier.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.cache/**', '**/*.int.test.ts', '**/*.e2e.test.ts'],
    pool: 'forks',
    // Property tests over thousands of members take seconds on a loaded 2-core machine.
    testTimeout: 60_000,
    retry: 0,
  },
});
