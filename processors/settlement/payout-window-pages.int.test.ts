// Proves the bounded window read never starves a group: with more free payout groups than one
// evaluation reads, the pages rotate through the groups in key order (continuing where the last
// full page ended, wrapping around), so every group is read within (groups ÷ limit) + 1 pages,
// whatever stays held. The groups are planted in a transaction that is rolled back, so no other
// test (and no running settlement) ever sees them.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { openTestDatabase } from '../../test/support/database.ts';
import { uniqueClientId, uniquePaymentId } from '../../test/support/ipn.ts';
import { xmrWalletA } from '../../test/support/settlement-fixtures.ts';
import { readWindowSummaries } from './payout-window-store.ts';
import { pageEndOf } from './payout-window-evaluation.ts';
import { groupKeyText, type GroupKey } from './payout-window.ts';

let database: DatabasePool;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database.end();
});

class Rollback extends Error {}

/** One client with one free credit of 1 USDT (far below its threshold, so its group stays undue). */
async function plantFreeGroup(transaction: DatabaseTransactionConnection, batchId: string): Promise<string> {
  const clientId = uniqueClientId();
  const paymentId = uniquePaymentId();
  await transaction.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    VALUES (${clientId}, 1, 'threshold', 100000, ${xmrWalletA}, 'xmr', 'xmr')`);
  await transaction.query(sql.unsafe`
    INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent, usd_gross, platform_fee_usd, usd_net,
                                eth_gross, platform_fee_eth, eth_net, conversion_batch_id, paid_at, received_at)
    VALUES (${paymentId}, ${clientId}, '1', '1', 'swapping', 0, 1, 0, 1, 0.001, 0, 0.001, ${batchId}, now(), now())`);
  await transaction.query(sql.unsafe`
    INSERT INTO usdt_credits (credit_id, client_id, payment_id, conversion_batch_id, usdt_amount, exact_share, rounding_applied,
                              wallet_address, payout_currency, payout_network, credited_at)
    VALUES (${`credit-${paymentId}`}, ${clientId}, ${paymentId}, ${batchId}, 1, '1000000/1', 0, ${xmrWalletA}, 'xmr', 'xmr', now())`);
  return clientId;
}

it('reads every free group within (groups ÷ limit) + 1 pages, wrapping around', async () => {
  const outcome = database.transaction(async (transaction) => {
    const batchId = `pages-${uniquePaymentId()}`;
    await transaction.query(sql.unsafe`
      INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
      VALUES (${batchId}, 'swapping', 'threshold', 7, 7, 0.007, 1, now())`);
    const planted = new Set<string>();
    for (let index = 0; index < 7; index += 1) planted.add(await plantFreeGroup(transaction, batchId));

    const all = (await readWindowSummaries(transaction, 100_000)).groups;
    expect(all.filter((group) => planted.has(group.key.clientId))).toHaveLength(7);
    // Fewer groups per page than there are (the point), but about twenty pages whatever earlier files
    // left free: at 3 per page, the tens of thousands of groups a large-conversion test leaves cost
    // thousands of reads.
    const limit = Math.max(3, Math.ceil(all.length / 20));
    expect(limit).toBeLessThan(all.length);
    const seen = new Set<string>();
    let after: GroupKey | null = null;
    const pagesMax = Math.ceil(all.length / limit) + 1;
    for (let page = 0; page < pagesMax; page += 1) {
      const { groups } = await readWindowSummaries(transaction, limit, after);
      expect(groups.length).toBeLessThanOrEqual(limit);
      for (const group of groups) seen.add(groupKeyText(group.key));
      after = groups.length >= limit ? pageEndOf(groups, after) : null;
    }
    expect(all.filter((group) => !seen.has(groupKeyText(group.key)))).toEqual([]);

    // A full page is followed by the next groups in key order, not by the same oldest ones again.
    const first = (await readWindowSummaries(transaction, limit, null)).groups;
    const second = (await readWindowSummaries(transaction, limit, pageEndOf(first, null))).groups;
    const firstKeys = new Set(first.map((group) => groupKeyText(group.key)));
    expect(second.filter((group) => firstKeys.has(groupKeyText(group.key)))).toEqual([]);
    throw new Rollback();
  });
  await expect(outcome).rejects.toBeInstanceOf(Rollback);
});
