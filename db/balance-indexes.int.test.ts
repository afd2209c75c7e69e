// Proves the indexes of 017_balance_indexes.sql serve the balance API's queries as written: each
// part of the balance's one statement (the store's own text, clientBalanceQuery) is answered through its index. The
// test database is small, so the planner would pick a sequential scan on cost alone; with
// enable_seqscan off it still does when no index matches the query (a renamed column, a predicate
// the partial index does not imply, a dropped index), and that is what fails here. The figures over
// 10^6 rows are bench/balance-query.ts's.
import { expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import { openTestDatabase } from '../test/support/database.ts';
import { clientBalanceQuery } from '../processors/settlement/settlement-read-model.ts';

const planLine = z.object({ 'QUERY PLAN': z.string() });

// Each index of 017 and the part of the balance statement it serves. On the test database's few rows
// the planner may answer the unconverted payments through payment_ledger_client_paid (020, also
// led by client_id) instead, depending on what earlier test files left; either is an index, and the
// choice at 10^6 rows is what bench/balance-query.ts EXPLAINs.
const indexes = [
  { index: 'usdt_credits_client_totals', alternatives: [], serves: 'the totals over all of the client\'s credits' },
  { index: 'conversion_batch_members_released', alternatives: [], serves: 'the count of payments back from a failed conversion' },
  { index: 'payment_ledger_client_unconverted', alternatives: ['payment_ledger_client_paid'], serves: 'the unconverted and needs-recovery payments' },
];

it.each(indexes)('answers $serves through $index', async ({ index, alternatives }) => {
  const database = await openTestDatabase();
  try {
    const plan = await database.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`SET LOCAL enable_seqscan = off`);
      const lines = await transaction.any(sql.type(planLine)`EXPLAIN ${clientBalanceQuery('1')}`);
      return lines.map((line) => line['QUERY PLAN']).join('\n');
    });
    expect([index, ...alternatives].some((name) => plan.includes(name)), plan).toBe(true);
  } finally {
    await database.end();
  }
});
