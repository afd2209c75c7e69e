// Proves the reconciliation finds a violation planted in the real database (inside a transaction
// that is rolled back, so other tests never see it) and finds none in the books the tests produced.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { openTestDatabase } from '../test/support/database.ts';
import { processorEnvironment } from '../test/support/processor-process.ts';
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

it('finds a finished conversion whose shares miss a base unit, and a credit marked paid by a payout that has not finished', async () => {
  await expect(
    database.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`
        INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
        VALUES ('-1009999999901', 1, 'threshold', 100, 'planted-wallet', 'xmr', 'xmr')`);
      await transaction.query(sql.unsafe`
        INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, usdt_received, created_at, finished_at)
        VALUES ('planted-conversion', 'finished', 'threshold', 1, 9.7, 0.00323333, 20, 10, now(), now())`);
      await transaction.query(sql.unsafe`
        INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent, usd_gross, platform_fee_usd, usd_net,
                                    eth_gross, platform_fee_eth, eth_net, conversion_batch_id, paid_at, received_at, routed_at)
        VALUES ('planted-payment', '-1009999999901', '1', '1', 'converted', 3, 10, 0.3, 9.7, 0.00333333, 0.00010000, 0.00323333, 'planted-conversion', now(), now(), now())`);
      await transaction.query(sql.unsafe`
        INSERT INTO payout_batches (batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency, source_amount, usd_value, created_at)
        VALUES ('planted-payout', '-1009999999901', 'threshold', 'requested', 'planted-wallet', 'xmr', 'xmr', 'usdt', 9.999999, 9.999999, now())`);
      // One base unit short of the 10 USDT received, and already "paid" by a payout still requested.
      await transaction.query(sql.unsafe`
        INSERT INTO usdt_credits (credit_id, client_id, payment_id, conversion_batch_id, usdt_amount, exact_share, rounding_applied, wallet_address,
                                  payout_currency, payout_network, payout_batch_id, paid_out_at, credited_at)
        VALUES ('planted-credit', '-1009999999901', 'planted-payment', 'planted-conversion', 9.999999, '10000000/1', -0.000001, 'planted-wallet',
                'xmr', 'xmr', 'planted-payout', now(), now())`);
      await transaction.query(sql.unsafe`
        INSERT INTO payout_batch_members (payout_batch_id, credit_id, usdt_amount, joined_at) VALUES ('planted-payout', 'planted-credit', 9.999999, now())`);
      const violations = await findViolations(transaction);
      expect(violations).toContainEqual(
        expect.objectContaining({ invariant: 'the shares of a finished conversion sum to the USDT it received, one per member', subject: 'planted-conversion' }),
      );
      expect(violations).toContainEqual(
        expect.objectContaining({ invariant: 'a credit is paid out only by a finished payout batch with a payout hash, and every credit of such a batch is', subject: 'planted-credit' }),
      );
      expect(violations).toContainEqual(expect.objectContaining({ invariant: 'per client, USDT credited = paid out + pending', subject: '-1009999999901' }));
      throw new Rollback();
    }),
  ).rejects.toBeInstanceOf(Rollback);
  expect(await findViolations(database)).toEqual([]);
});

async function reconcileCommand(): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'reconcile'], { env: processorEnvironment(), stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

it('`cli reconcile` prints a committed violation and exits 1, then no longer once it is removed', async () => {
  await database.query(sql.unsafe`
    INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
    VALUES ('planted-for-cli', 'requested', 'threshold', 1, 20, 0.01, 20, now())`);
  try {
    const found = await reconcileCommand();
    expect(found.code).toBe(1);
    expect(found.output).toContain('VIOLATION conversion batch totals equal the sum of their members: planted-for-cli');
  } finally {
    await database.query(sql.unsafe`DELETE FROM conversion_batches WHERE batch_id = 'planted-for-cli'`);
  }
  const clean = await reconcileCommand();
  expect(clean.output).toMatch(/reconciliation: \d+ invariants hold/);
  // No violation: 0, or 3 when a liveness finding (db/liveness.ts) stands, left by other files.
  expect(clean.code).toBe(clean.output.includes('\nFINDING ') ? 3 : 0);
}, 60_000);
