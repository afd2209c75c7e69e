// Proves the reconciliation finds a violation planted in the real database (inside a transaction
// that is rolled back, so other tests never see it) and finds none in the books the tests produced.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { openTestDatabase } from '../test/support/database.ts';
import { findViolations } from './reconciliation.ts';

let database: DatabasePool;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database.end();
});

class Rollback extends Error {}

it('finds a conversion batch whose totals do not match its members, then the rollback leaves none', async () => {
  await expect(
    database.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`
        INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
        VALUES ('planted-violation', 'requested', 'threshold', 2, 40, 0.02, 20, now())`);
      const violations = await findViolations(transaction);
      expect(violations).toContainEqual(
        expect.objectContaining({ invariant: 'conversion batch totals equal the sum of their members', subject: 'planted-violation' }),
      );
      throw new Rollback();
    }),
  ).rejects.toBeInstanceOf(Rollback);
  expect(await findViolations(database)).toEqual([]);
});
