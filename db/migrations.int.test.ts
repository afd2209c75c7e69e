// Proves the project's real migrations are idempotent on the real database: the global setup
// applied them, so applying again changes nothing, and the ledger's money columns are NUMERIC.
import { expect, inject, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import { createLogger } from '../core/logger.ts';
import { migrateDatabase } from './migrate.ts';
import { openTestDatabase } from '../test/support/database.ts';

it('applies nothing the second time', async () => {
  const log = createLogger({ name: 'migrations-test', level: 'silent' });
  const again = await migrateDatabase({ databaseUrl: inject('endpoints').databaseUrl, log });
  expect(again.applied).toEqual([]);
  expect(again.alreadyApplied).toBeGreaterThan(0);
});

it('stores every money column as exact NUMERIC, never float', async () => {
  const database = await openTestDatabase();
  try {
    const floats = await database.any(sql.type(z.object({ table_name: z.string(), column_name: z.string() }))`
      SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type IN ('real', 'double precision', 'money')`);
    expect(floats).toEqual([]);
    const usd = await database.oneFirst(sql.type(z.object({ numeric_scale: z.number() }))`
      SELECT numeric_scale FROM information_schema.columns WHERE table_name = 'payment_ledger' AND column_name = 'usd_net'`);
    expect(usd).toBe(8);
  } finally {
    await database.end();
  }
});
