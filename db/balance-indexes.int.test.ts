// Proves the indexes of 017_balance_indexes.sql serve the balance API's queries as written: each
// query shape (copied from the admin's loadClientBalance) can be answered through its index. The
// test database is small, so the planner would pick a sequential scan on cost alone; with
// enable_seqscan off it still does when no index matches the query (a renamed column, a predicate
// the partial index does not imply, a dropped index), and that is what fails here. The figures over
// 10^6 rows are bench/balance-query.ts's.
import { expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import { openTestDatabase } from '../test/support/database.ts';

const planLine = z.object({ 'QUERY PLAN': z.string() });

const shapes = [
  {
    index: 'usdt_credits_client_totals',
    query: sql.fragment`SELECT coalesce(sum(usdt_amount), 0), coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NOT NULL), 0)
      FROM usdt_credits WHERE client_id = '1'`,
  },
  {
    index: 'conversion_batch_members_released',
    query: sql.fragment`SELECT count(*) FILTER (WHERE EXISTS (
        SELECT 1 FROM conversion_batch_members m WHERE m.payment_id = l.payment_id AND m.released_at IS NOT NULL))
      FROM payment_ledger l WHERE l.client_id = '1' AND l.state IN ('pending_conversion', 'swapping')`,
  },
  {
    index: 'payment_ledger_client_unconverted',
    query: sql.fragment`SELECT count(*) FROM payment_ledger l WHERE l.client_id = '1' AND l.state IN ('pending_conversion', 'swapping')`,
  },
  {
    index: 'payment_ledger_client_unconverted',
    query: sql.fragment`SELECT count(*) FROM payment_ledger l WHERE l.client_id = '1' AND l.state = 'needs_recovery'`,
  },
];

it.each(shapes)('answers its balance query through $index', async ({ index, query }) => {
  const database = await openTestDatabase();
  try {
    const plan = await database.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`SET LOCAL enable_seqscan = off`);
      const lines = await transaction.any(sql.type(planLine)`EXPLAIN ${query}`);
      return lines.map((line) => line['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain(index);
  } finally {
    await database.end();
  }
});
