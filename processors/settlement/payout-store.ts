// Settlement's SQL for payout batches on their swap events, inside the chunk's transaction.
// "Paid" is written here and only here: credits (and the ledger rows they came from) get
// paid_out_at in the transaction that records the batch finished with its payout hash.
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { payoutBatchesTableRow } from '../../db/payout-batches-table.ts';
import { assertInvariant } from '../../core/errors.ts';
import type { Decimal } from '../../core/money.ts';
import { decimalValue } from '../../db/decimal-value.ts';
import type { PayoutBatchFacts } from './swap-event-decision.ts';
import type { RetrySchedule } from './payout-retry.ts';

const payoutBatchRow = payoutBatchesTableRow.pick({
  batch_id: true, client_id: true, reason: true, state: true, wallet_address: true, payout_currency:
  true, payout_network: true, source_currency: true, source_amount: true, usd_value: true,
  exchange_id: true, payin_hash: true, payout_hash: true, attempts: true, origin_batch_id: true,
});

export interface LockedPayoutBatch extends PayoutBatchFacts {
  readonly batchId: string;
  readonly clientId: string;
  readonly reason: string;
  readonly walletAddress: string;
  readonly payoutCurrency: string;
  readonly payoutNetwork: string;
  readonly sourceCurrency: string;
  readonly sourceAmount: Decimal;
  readonly usdValue: Decimal;
  readonly exchangeId: string | null;
  readonly payinHash: string | null;
  readonly attempts: number;
  /** The first batch of the retry chain (itself for a first batch). */
  readonly originBatchId: string;
}

export async function lockPayoutBatch(transaction: DatabaseTransactionConnection, batchId: string): Promise<LockedPayoutBatch | null> {
  const row = await transaction.maybeOne(sql.type(payoutBatchRow)`
    SELECT batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency, source_amount, usd_value,
           exchange_id, payin_hash, payout_hash, attempts, origin_batch_id
    FROM payout_batches WHERE batch_id = ${batchId} FOR UPDATE`);
  if (row === null) return null;
  return {
    batchId: row.batch_id,
    clientId: row.client_id,
    reason: row.reason,
    state: row.state,
    walletAddress: row.wallet_address,
    payoutCurrency: row.payout_currency,
    payoutNetwork: row.payout_network,
    sourceCurrency: row.source_currency,
    sourceAmount: row.source_amount,
    usdValue: row.usd_value,
    exchangeId: row.exchange_id,
    payinHash: row.payin_hash,
    payoutHash: row.payout_hash,
    attempts: row.attempts,
    originBatchId: row.origin_batch_id ?? row.batch_id,
  };
}

export interface PayoutExchangeFacts {
  readonly exchangeId: string | null;
  readonly exchangeStatus: string | null;
  readonly payinHash: string | null;
}

export interface PayoutFinished extends PayoutExchangeFacts {
  readonly payoutHash: string;
  readonly payoutAmount: Decimal;
}

const countRow = z.object({ count: z.number().int() });

/** Batch → finished with its hash; its credits and their payments (or its instant payment) → paid out. */
export async function recordPayoutFinished(transaction: DatabaseTransactionConnection, batch: LockedPayoutBatch, finished: PayoutFinished, now: Date): Promise<{ credits: number; payments: number }> {
  await transaction.query(sql.unsafe`
    UPDATE payout_batches
    SET state = 'finished', payout_hash = ${finished.payoutHash}, payout_amount = ${decimalValue(finished.payoutAmount)}, completed_at = ${sql.timestamp(now)},
        exchange_id = coalesce(${finished.exchangeId}, exchange_id), exchange_status = coalesce(${finished.exchangeStatus}, exchange_status),
        payin_hash = coalesce(${finished.payinHash}, payin_hash)
    WHERE batch_id = ${batch.batchId}`);
  const liveMembers = await transaction.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM payout_batch_members WHERE payout_batch_id = ${batch.batchId} AND released_at IS NULL`);
  const credits = await transaction.query(sql.unsafe`
    UPDATE usdt_credits SET paid_out_at = ${sql.timestamp(now)}
    WHERE payout_batch_id = ${batch.batchId} AND paid_out_at IS NULL`);
  assertInvariant(credits.rowCount === liveMembers, 'every live member of a finished payout is marked paid once', { batchId: batch.batchId, liveMembers, marked: credits.rowCount });
  const creditPayments = await transaction.query(sql.unsafe`
    UPDATE payment_ledger AS ledger SET paid_out_at = ${sql.timestamp(now)}, updated_at = ${sql.timestamp(now)}
    FROM usdt_credits AS credit
    WHERE credit.payout_batch_id = ${batch.batchId} AND credit.payment_id = ledger.payment_id AND ledger.paid_out_at IS NULL`);
  // An instant payment points at the first batch of its chain, whichever retry finally paid it.
  const instantPayments = await transaction.query(sql.unsafe`
    UPDATE payment_ledger SET paid_out_at = ${sql.timestamp(now)}, updated_at = ${sql.timestamp(now)}
    WHERE payout_batch_id = ${batch.originBatchId} AND state = 'instant_payout' AND paid_out_at IS NULL`);
  return { credits: credits.rowCount, payments: creditPayments.rowCount + instantPayments.rowCount };
}

/**
 * Batch → failed with its reason and its retry schedule; its members are released (history kept)
 * and its credits are unpaid again, held for the batch's retry rather than returned to the window.
 */
export async function recordPayoutFailed(
  transaction: DatabaseTransactionConnection,
  batch: LockedPayoutBatch,
  failure: PayoutExchangeFacts & { readonly reason: string; readonly schedule: RetrySchedule },
  now: Date,
): Promise<number> {
  const { schedule } = failure;
  await transaction.query(sql.unsafe`
    UPDATE payout_batches
    SET state = 'failed', failure_reason = ${failure.reason}, failed_at = ${sql.timestamp(now)},
        next_retry_at = ${schedule.kind === 'retry' ? sql.timestamp(schedule.at) : null},
        retries_exhausted_at = ${schedule.kind === 'exhausted' ? sql.timestamp(now) : null},
        exchange_id = coalesce(${failure.exchangeId}, exchange_id), exchange_status = coalesce(${failure.exchangeStatus}, exchange_status),
        payin_hash = coalesce(${failure.payinHash}, payin_hash)
    WHERE batch_id = ${batch.batchId}`);
  await transaction.query(sql.unsafe`
    UPDATE payout_batch_members SET released_at = ${sql.timestamp(now)}, release_reason = ${`payout failed: ${failure.reason}`}
    WHERE payout_batch_id = ${batch.batchId} AND released_at IS NULL`);
  const released = await transaction.query(sql.unsafe`
    UPDATE usdt_credits SET payout_batch_id = NULL WHERE payout_batch_id = ${batch.batchId} AND paid_out_at IS NULL`);
  return released.rowCount;
}

export async function recordPayoutProgress(transaction: DatabaseTransactionConnection, batch: LockedPayoutBatch, facts: PayoutExchangeFacts): Promise<void> {
  await transaction.query(sql.unsafe`
    UPDATE payout_batches
    SET state = 'swapping', exchange_id = coalesce(${facts.exchangeId}, exchange_id), exchange_status = coalesce(${facts.exchangeStatus}, exchange_status),
        payin_hash = coalesce(${facts.payinHash}, payin_hash)
    WHERE batch_id = ${batch.batchId} AND state IN ('requested', 'swapping')`);
}
