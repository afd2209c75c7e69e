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

// Each index of 017 and the part of the balance statement it serves. payment_ledger has two other
// indexes led by client_id (001's payment_ledger_client, 020's payment_ledger_client_paid); on the
// test database's few rows the planner's pick among the three depended on what earlier files left
// (CI saw each). They are dropped inside the EXPLAIN's transaction, which rolls back, so the plan
// shows whether 017's index can answer, whatever the statistics say.
const indexes = [
  { index: 'usdt_credits_client_totals', withheld: [], serves: 'the totals over all of the client\'s credits' },
  { index: 'conversion_batch_members_released', withheld: [], serves: 'the count of payments back from a failed conversion' },
  { index: 'payment_ledger_client_unconverted', withheld: ['payment_ledger_client', 'payment_ledger_client_paid'], serves: 'the unconverted and needs-recovery payments' },
];

/** Thrown to end the EXPLAIN's transaction with a rollback, so the dropped indexes come back. */
class RollBack extends Error {}

it.each(indexes)('answers $serves through $index', async ({ index, withheld }) => {
  const database = await openTestDatabase();
  let plan = '';
  try {
    await database
      .transaction(async (transaction) => {
        await transaction.query(sql.unsafe`SET LOCAL enable_seqscan = off`);
        // DROP INDEX locks the table until the rollback: fail fast rather than queue behind a
        // process an earlier file left running.
        await transaction.query(sql.unsafe`SET LOCAL lock_timeout = '10s'`);
        for (const name of withheld) await transaction.query(sql.unsafe`DROP INDEX ${sql.identifier([name])}`);
        const lines = await transaction.any(sql.type(planLine)`EXPLAIN ${clientBalanceQuery('1')}`);
        plan = lines.map((line) => line['QUERY PLAN']).join('\n');
        throw new RollBack();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollBack)) throw error;
      });
    expect(plan.includes(index), plan).toBe(true);
    // The rollback brought the withheld indexes back.
    const present = await database.anyFirst(sql.type(z.object({ indexname: z.string() }))`
      SELECT indexname FROM pg_indexes WHERE indexname = ANY(${sql.array(withheld, 'text')})`);
    expect([...present].sort()).toEqual([...withheld].sort());
  } finally {
    await database.end();
  }
});
