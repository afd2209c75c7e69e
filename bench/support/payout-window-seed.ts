// The payout window benchmark's seed (bench/payout-window-cost.ts), set-based SQL as settlement's
// distribution leaves its rows: one conversion batch per planting, its members' ledger rows, their
// credits — and, when asked, the NOTIFY conversion-store.ts sends in the same transaction. It
// writes settlement's tables directly, which only a benchmark's own database may see.
import { sql, type DatabasePool, type FragmentSqlToken } from 'slonik';
import { encodeCreditsIssued, settlementWindowChannel } from '../../db/settlement-notifications.ts';

// A valid xmr address (the simulator checks the payout address of an exchange it creates, not of a quote).
export const xmrWallet = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
/** Client ids: '-1009' + 10 digits for the undue groups, '-1008' + 10 digits for the due ones (14 digits, as clients.client_id allows). */
const undueClientPrefix = '-1009';
const dueClientPrefix = '-1008';

let planted = 0;
let dueGroups = 0;

/**
 * Set-based: `count` more credits of `usdt` USDT each, in one transaction, with the conversion batch
 * and swapping ledger rows a distribution leaves behind (and its NOTIFY when `notify`). `clientOf` maps the credit's number n
 * (an SQL expression over n) to its client's index; the clients exist already.
 */
export async function plantCredits(pool: DatabasePool, count: number, usdt: string, clientOf: FragmentSqlToken, notify = false): Promise<void> {
  const first = planted;
  planted += count;
  const batchId = `bench-payout-window-${first}`;
  await pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`
      INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
      VALUES (${batchId}, 'swapping', 'threshold', ${count}, ${count}, ${count}, 1, now())`);
    await transaction.query(sql.unsafe`
      INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent, usd_gross, platform_fee_usd, usd_net,
                                  eth_gross, platform_fee_eth, eth_net, conversion_batch_id, paid_at, received_at)
      SELECT 'bench-payout-window-' || n, ${clientOf}, '1', '1', 'swapping', 0, ${usdt}::numeric, 0, ${usdt}::numeric, 0.001, 0, 0.001, ${batchId}, now(), now()
      FROM generate_series(${first}::int8, ${planted - 1}::int8) AS n`);
    await transaction.query(sql.unsafe`
      INSERT INTO usdt_credits (credit_id, client_id, payment_id, conversion_batch_id, usdt_amount, exact_share, rounding_applied,
                                wallet_address, payout_currency, payout_network, credited_at)
      SELECT 'credit-' || l.payment_id, l.client_id, l.payment_id, ${batchId}, l.usd_net, (l.usd_net * 1000000)::int8 || '/1', 0, ${xmrWallet}, 'xmr', 'xmr', now()
      FROM payment_ledger l WHERE l.conversion_batch_id = ${batchId}`);
    if (notify) await transaction.query(sql.unsafe`SELECT pg_notify(${settlementWindowChannel}, ${encodeCreditsIssued(batchId)})`);
  });
}

function clientIdSql(prefix: string, index: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`${prefix} || lpad((${index})::text, 10, '0')`;
}

export async function undueGroupCount(pool: DatabasePool): Promise<number> {
  return Number(await pool.oneFirst(sql.unsafe`SELECT count(*)::int4 FROM clients WHERE client_id LIKE ${`${undueClientPrefix}%`}`));
}

/** Credits up to `size`, in groups of creditsPerGroup (new clients as needed), all far below their threshold. */
export async function plantUndueUpTo(pool: DatabasePool, size: number, creditsPerGroup: number): Promise<void> {
  const missing = size - (await freeCreditCount(pool));
  if (missing <= 0) return;
  const groupsFrom = await undueGroupCount(pool);
  const groups = Math.ceil(missing / creditsPerGroup);
  await pool.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    SELECT ${clientIdSql(undueClientPrefix, sql.fragment`g`)}, 1, 'threshold', 1000000, ${xmrWallet}, 'xmr', 'xmr'
    FROM generate_series(${groupsFrom}::int8, ${groupsFrom + groups - 1}::int8) AS g`);
  const first = planted;
  await plantCredits(pool, missing, '1', clientIdSql(undueClientPrefix, sql.fragment`${groupsFrom}::int8 + (n - ${first}::int8) / ${creditsPerGroup}::int8`));
}

export async function freeCreditCount(pool: DatabasePool): Promise<number> {
  return Number(await pool.oneFirst(sql.unsafe`SELECT count(*)::int4 FROM usdt_credits WHERE paid_out_at IS NULL AND payout_batch_id IS NULL`));
}


/** `count` more credits of 1 USDT in the existing `groups` undue groups, spread a prime stride apart, as a chunk's distributions would be. */
export async function plantSpreadCredits(pool: DatabasePool, count: number, groups: number, round: number, notify: boolean): Promise<void> {
  const first = planted;
  await plantCredits(pool, count, '1', clientIdSql(undueClientPrefix, sql.fragment`((n - ${first}::int8) * 7919 + ${round * 104_729}::int8) % ${groups}::int8`), notify);
}

/** `count` new groups (clients with a 100 USD threshold), each with one credit of 200 USDT: due at once. */
export async function plantDueGroups(pool: DatabasePool, count: number, notify: boolean): Promise<void> {
  const from = dueGroups;
  dueGroups += count;
  await pool.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    SELECT ${clientIdSql(dueClientPrefix, sql.fragment`g`)}, 1, 'threshold', 100, ${xmrWallet}, 'xmr', 'xmr'
    FROM generate_series(${from}::int8, ${dueGroups - 1}::int8) AS g`);
  const first = planted;
  await plantCredits(pool, count, '200', clientIdSql(dueClientPrefix, sql.fragment`${from}::int8 + n - ${first}::int8`), notify);
}
