// Settlement's SQL for conversion batches, inside the chunk's transaction. Rows are locked before
// they are decided on (FOR UPDATE), so a second settlement instance handling the same batch after
// a rebalance waits, then sees the outcome already recorded.
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { assertInvariant, InvariantViolation } from '../../core/errors.ts';
import type { Decimal } from '../../core/money.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { decimalValue } from '../../db/decimal-value.ts';
import { encodeCreditsIssued, settlementWindowChannel } from '../../db/settlement-notifications.ts';
import { notifyReturnedToPending, returnedToPendingRow } from './returned-to-pending.ts';
import { clientsTableRow } from '../../db/clients-table.ts';
import { effectiveWalletOf } from '../../core/client-payout-config.ts';
import type { ConversionBatchFacts } from './swap-event-decision.ts';
import { planCredits, usdtOfBaseUnits, type ConversionMember, type CreditDestination, type PlannedCredit } from './conversion-credits.ts';

const conversionBatchRow = z.object({
  batch_id: z.string(),
  state: z.enum(['requested', 'swapping', 'finished', 'failed', 'needs_recovery', 'written_off']),
  member_count: z.number().int(),
  usdt_received: decimalColumn.nullable(),
  exchange_id: z.string().nullable(),
});

export interface LockedConversionBatch extends ConversionBatchFacts {
  readonly batchId: string;
  readonly memberCount: number;
}

export async function lockConversionBatch(transaction: DatabaseTransactionConnection, batchId: string): Promise<LockedConversionBatch | null> {
  const row = await transaction.maybeOne(sql.type(conversionBatchRow)`
    SELECT batch_id, state, member_count, usdt_received, exchange_id FROM conversion_batches WHERE batch_id = ${batchId} FOR UPDATE`);
  return row === null ? null : { batchId: row.batch_id, state: row.state, memberCount: row.member_count, usdtReceived: row.usdt_received, exchangeId: row.exchange_id };
}

const memberRow = z.object({ payment_id: z.string(), client_id: z.string(), usd_net: decimalColumn, state: z.string() });

/** The batch's members as the ledger holds them, locked; every one must still be swapping. */
async function lockConversionMembers(transaction: DatabaseTransactionConnection, batch: LockedConversionBatch): Promise<ConversionMember[]> {
  const rows = await transaction.any(sql.type(memberRow)`
    SELECT payment_id, client_id, usd_net, state FROM payment_ledger
    WHERE conversion_batch_id = ${batch.batchId}
    ORDER BY payment_id
    FOR UPDATE`);
  assertInvariant(rows.length === batch.memberCount, 'a live conversion batch still has all its members', { batchId: batch.batchId, memberCount: batch.memberCount, found: rows.length });
  for (const row of rows) {
    assertInvariant(row.state === 'swapping', 'members of a live conversion batch are swapping', { batchId: batch.batchId, paymentId: row.payment_id, state: row.state });
  }
  return rows.map((row) => ({ paymentId: row.payment_id, clientId: row.client_id, usdNet: row.usd_net }));
}

const clientRow = clientsTableRow.extend({ pending_wallet_address: z.string().nullable(), pending_wallet_effective_at: z.date().nullable() });

/** Each client's payout destination in force at `now` (a wallet change counts once its cooldown passed). */
async function loadDestinations(transaction: DatabaseTransactionConnection, clientIds: readonly string[], now: Date): Promise<Map<string, CreditDestination>> {
  const rows = await transaction.any(sql.type(clientRow)`
    SELECT client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network, pending_wallet_address, pending_wallet_effective_at
    FROM clients WHERE client_id = ANY(${sql.array([...new Set(clientIds)], 'text')})`);
  return new Map(
    rows.map((row) => [row.client_id, { walletAddress: effectiveWalletOf(row, now), payoutCurrency: row.payout_currency, payoutNetwork: row.payout_network }]),
  );
}

export interface ConversionOutcome {
  readonly batchId: string;
  readonly exchangeId: string | null;
  readonly exchangeStatus: string | null;
  readonly ethSent: Decimal | null;
  readonly payinHash: string | null;
  readonly payoutHash: string | null;
}

/**
 * The one way credits are issued: the batch's members locked, each client's credit planned
 * (conversion-credits.ts, largest remainder over what was received) and recorded with the batch
 * finished (recordConversionFinished, which NOTIFYs settlement_window). A FINISHED swap event and an
 * operator's "recovered" both take it, in the caller's transaction.
 */
export async function distributeConversion(
  transaction: DatabaseTransactionConnection,
  batch: LockedConversionBatch,
  outcome: ConversionOutcome,
  receivedBaseUnits: bigint,
  now: Date,
): Promise<{ readonly members: readonly ConversionMember[]; readonly credits: readonly PlannedCredit[] }> {
  const members = await lockConversionMembers(transaction, batch);
  const destinations = await loadDestinations(transaction, members.map((member) => member.clientId), now);
  const credits = planCredits({
    receivedBaseUnits,
    members,
    destinationOf: (clientId) => {
      const destination = destinations.get(clientId);
      if (destination === undefined) throw new InvariantViolation('a converted payment belongs to a registered client', { clientId });
      return destination;
    },
  });
  await recordConversionFinished(transaction, { ...outcome, usdtReceived: usdtOfBaseUnits(receivedBaseUnits) }, credits, now);
  return { members, credits };
}

/** Credits, ledger → converted, batch → finished, in one go (the caller's transaction). */
async function recordConversionFinished(
  transaction: DatabaseTransactionConnection,
  outcome: ConversionOutcome & { readonly usdtReceived: Decimal },
  credits: readonly PlannedCredit[],
  now: Date,
): Promise<void> {
  await transaction.query(sql.unsafe`
    INSERT INTO usdt_credits (credit_id, client_id, payment_id, conversion_batch_id, usdt_amount, exact_share, rounding_applied,
                              wallet_address, payout_currency, payout_network, credited_at)
    SELECT credit.credit_id, credit.client_id, credit.payment_id, ${outcome.batchId}, credit.usdt_amount, credit.exact_share, credit.rounding_applied,
           credit.wallet_address, credit.payout_currency, credit.payout_network, ${sql.timestamp(now)}
    FROM unnest(
      ${sql.array(credits.map((c) => c.creditId), 'text')},
      ${sql.array(credits.map((c) => c.clientId), 'text')},
      ${sql.array(credits.map((c) => c.paymentId), 'text')},
      ${sql.array(credits.map((c) => c.usdtAmount.toFixed()), 'numeric')},
      ${sql.array(credits.map((c) => c.exactShare), 'text')},
      ${sql.array(credits.map((c) => c.roundingApplied.toFixed()), 'numeric')},
      ${sql.array(credits.map((c) => c.destination.walletAddress), 'text')},
      ${sql.array(credits.map((c) => c.destination.payoutCurrency), 'text')},
      ${sql.array(credits.map((c) => c.destination.payoutNetwork), 'text')}
    ) AS credit (credit_id, client_id, payment_id, usdt_amount, exact_share, rounding_applied, wallet_address, payout_currency, payout_network)`);
  // Every listening settlement instance adds these credits to its running window state on commit
  // (incremental-payout-window.ts); a crash before the commit sends nothing, as it writes nothing.
  await transaction.query(sql.unsafe`SELECT pg_notify(${settlementWindowChannel}, ${encodeCreditsIssued(outcome.batchId)})`);
  const converted = await transaction.query(sql.unsafe`
    UPDATE payment_ledger SET state = 'converted', updated_at = ${sql.timestamp(now)}
    WHERE conversion_batch_id = ${outcome.batchId} AND state = 'swapping'`);
  assertInvariant(converted.rowCount === credits.length, 'every credited member moves to converted', { batchId: outcome.batchId, credits: credits.length, moved: converted.rowCount });
  await transaction.query(sql.unsafe`
    UPDATE conversion_batches
    SET state = 'finished', usdt_received = ${decimalValue(outcome.usdtReceived)}, finished_at = ${sql.timestamp(now)},
        exchange_id = coalesce(${outcome.exchangeId}, exchange_id), exchange_status = coalesce(${outcome.exchangeStatus}, exchange_status),
        eth_sent = coalesce(${outcome.ethSent === null ? null : decimalValue(outcome.ethSent)}, eth_sent),
        payin_hash = coalesce(${outcome.payinHash}, payin_hash), payout_hash = coalesce(${outcome.payoutHash}, payout_hash)
    WHERE batch_id = ${outcome.batchId}`);
}

/**
 * The batch failed (or received nothing): it records why, its memberships are released with the
 * reason (the history stays in conversion_batch_members), and its payments go back to
 * pending_conversion, where the accumulator batches them again. Returns how many went back.
 */
export async function recordConversionFailed(
  transaction: DatabaseTransactionConnection,
  outcome: ConversionOutcome & { readonly reason: string; readonly usdtReceived: Decimal | null },
  now: Date,
): Promise<number> {
  await transaction.query(sql.unsafe`
    UPDATE conversion_batches
    SET state = 'failed', failure_reason = ${outcome.reason}, failed_at = ${sql.timestamp(now)},
        usdt_received = ${outcome.usdtReceived === null ? null : decimalValue(outcome.usdtReceived)},
        exchange_id = coalesce(${outcome.exchangeId}, exchange_id), exchange_status = coalesce(${outcome.exchangeStatus}, exchange_status),
        eth_sent = coalesce(${outcome.ethSent === null ? null : decimalValue(outcome.ethSent)}, eth_sent),
        payin_hash = coalesce(${outcome.payinHash}, payin_hash), payout_hash = coalesce(${outcome.payoutHash}, payout_hash)
    WHERE batch_id = ${outcome.batchId}`);
  await transaction.query(sql.unsafe`
    UPDATE conversion_batch_members
    SET released_at = ${sql.timestamp(now)}, release_reason = ${`conversion failed: ${outcome.reason}`}
    WHERE batch_id = ${outcome.batchId} AND released_at IS NULL`);
  const returned = await transaction.any(sql.type(returnedToPendingRow)`
    UPDATE payment_ledger SET state = 'pending_conversion', conversion_batch_id = NULL, updated_at = ${sql.timestamp(now)}
    WHERE conversion_batch_id = ${outcome.batchId} AND state = 'swapping'
    RETURNING usd_net, received_at`);
  await notifyReturnedToPending(transaction, returned);
  return returned.length;
}

/**
 * The batch failed after its pay-in may have left: it is held for recovery with what the exchange
 * reported, and its payments stay members (live) in state needs_recovery — never back to pending,
 * where the accumulator would convert (and pay in) them a second time. Returns how many are held.
 */
export async function recordConversionNeedsRecovery(
  transaction: DatabaseTransactionConnection,
  outcome: ConversionOutcome & { readonly reason: string },
  now: Date,
): Promise<number> {
  const ethSent = outcome.ethSent === null ? null : decimalValue(outcome.ethSent);
  await transaction.query(sql.unsafe`
    UPDATE conversion_batches
    SET state = 'needs_recovery', failure_reason = ${outcome.reason}, failed_at = ${sql.timestamp(now)},
        exchange_id = coalesce(${outcome.exchangeId}, exchange_id), exchange_status = coalesce(${outcome.exchangeStatus}, exchange_status),
        eth_sent = coalesce(${ethSent}, eth_sent), payin_hash = coalesce(${outcome.payinHash}, payin_hash)
    WHERE batch_id = ${outcome.batchId}`);
  await transaction.query(sql.unsafe`
    INSERT INTO conversion_recoveries (batch_id, exchange_id, exchange_status, reported_reason, payin_hash, eth_sent, opened_at)
    SELECT batch_id, exchange_id, exchange_status, ${outcome.reason}, payin_hash, eth_sent, ${sql.timestamp(now)}
    FROM conversion_batches WHERE batch_id = ${outcome.batchId}
    ON CONFLICT (batch_id) DO NOTHING`);
  const held = await transaction.query(sql.unsafe`
    UPDATE payment_ledger SET state = 'needs_recovery', updated_at = ${sql.timestamp(now)}
    WHERE conversion_batch_id = ${outcome.batchId} AND state = 'swapping'`);
  return held.rowCount;
}

export async function recordConversionProgress(transaction: DatabaseTransactionConnection, outcome: ConversionOutcome): Promise<void> {
  await transaction.query(sql.unsafe`
    UPDATE conversion_batches
    SET state = 'swapping', exchange_id = coalesce(${outcome.exchangeId}, exchange_id), exchange_status = coalesce(${outcome.exchangeStatus}, exchange_status),
        eth_sent = coalesce(${outcome.ethSent === null ? null : decimalValue(outcome.ethSent)}, eth_sent),
        payin_hash = coalesce(${outcome.payinHash}, payin_hash)
    WHERE batch_id = ${outcome.batchId} AND state IN ('requested', 'swapping')`);
}
