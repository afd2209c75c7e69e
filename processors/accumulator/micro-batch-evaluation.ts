// One evaluation of the global micro-batch window against the ledger, in ONE transaction:
// lock the window → read the threshold in force → lock the pending rows → decide (pure) → insert
// the batches, move their members to 'swapping' and write one ConversionRequested per batch to the
// outbox. The members change state if and only if the command exists, and the command exists if
// and only if they changed state: a crash anywhere rolls all of it back, and the next evaluation
// decides again from the committed ledger.
//
// Several accumulator instances: the window is global, so every decision must see the result of
// the previous one. pg_advisory_xact_lock on one constant key serialises evaluations across all
// instances; the lock lives in the same database and transaction as the effect, is released by
// commit, rollback or a dead connection, and cannot be held by a zombie. It blocks rather than
// tries, so an instance woken by a NOTIFY waits its turn and then sees the rows the other instance
// did not (a skipped try-lock could leave a crossing undetected until the next punctuation).
// The alternative — one owner through a single-partition topic — would also need fencing of the
// database writes (Kafka's group membership does not fence a zombie's transactions) and a topic
// every pending row is echoed to; the ledger already is the window's input, so the lock guards it
// where it lives. Every instance is a hot standby: no rebalance is needed when one dies.
// The rows are also locked FOR UPDATE, so any other writer of pending rows waits for the decision.
// The exchange's range is asked for before the transaction (network calls never run under the
// lock) and the holds it causes are written in the same transaction as the decision.
import { sql, type CommonQueryMethods, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { assertInvariant } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';
import { insertOutboxRecords, type OutboxRecord } from '../../core/processing/outbox.ts';
import { decimalText, decimalValue } from '../../db/decimal-value.ts';
import type { ConversionRequested } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { closeMicroBatches, comparePending, totalsOf, type ConversionRange, type MicroBatch, type PendingPayment, type WindowHold, type WindowHoldState } from './micro-batch-window.ts';
import { readThresholdInForce, type ThresholdInForce, type ThresholdLimits } from './pipeline-settings.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { globalWindowLock, lockForTransaction } from '../../db/advisory-locks.ts';

export interface WindowRules extends ThresholdLimits {
  readonly maxWaitMs: number;
  readonly membersMax: number;
}

export interface WindowEvaluation {
  readonly batches: readonly MicroBatch[];
  readonly threshold: ThresholdInForce;
  readonly remaining: readonly PendingPayment[];
  readonly holds: readonly WindowHold[];
  readonly now: Date;
}

const decimal = decimalColumn;

const pendingRow = z.object({
  payment_id: z.string(),
  usd_net: decimal,
  eth_net: decimal,
  received_at: z.date(),
});

const movedRow = z.object({ payment_id: z.string(), conversion_batch_id: z.string() });

async function lockWindow(transaction: DatabaseTransactionConnection): Promise<void> {
  await lockForTransaction(transaction, globalWindowLock());
}

async function lockPendingPayments(transaction: DatabaseTransactionConnection): Promise<PendingPayment[]> {
  // No LIMIT: the window's rules bound what stays pending (less than the threshold, younger than
  // maxWait after every evaluation), and the whole pending sum decides the threshold trigger.
  const rows = await transaction.any(sql.type(pendingRow)`
    SELECT payment_id, usd_net, eth_net, received_at
    FROM payment_ledger
    WHERE state = 'pending_conversion'
    ORDER BY received_at, payment_id
    FOR UPDATE
  `);
  const pending = rows.map((row) => ({ paymentId: row.payment_id, usdNet: row.usd_net, ethNet: row.eth_net, receivedAt: row.received_at }));
  // Re-sorted in JS order: PostgreSQL orders by microseconds and its collation, a Date holds
  // milliseconds, and the window asserts the order it is given.
  return pending.sort(comparePending);
}

function conversionRequestOf(batch: MicroBatch, now: Date): OutboxRecord<'conversion-requested'> {
  const value: ConversionRequested = {
    command_id: batch.batchId,
    batch_id: batch.batchId,
    member_payment_ids: batch.members.map((member) => member.paymentId),
    total_usd: batch.totalUsd,
    total_eth: batch.totalEth,
    threshold_usd: batch.thresholdUsd,
    trigger: batch.trigger,
    requested_at: now,
  };
  return { topic: topicNames.conversionRequests, schemaName: 'conversion-requested', key: batch.batchId, value, correlationId: batch.batchId };
}

async function recordBatches(transaction: DatabaseTransactionConnection, batches: readonly MicroBatch[], now: Date): Promise<void> {
  // One array parameter per column, so the parameter count does not grow with the number of batches.
  await transaction.query(sql.unsafe`
    INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
    SELECT batch.batch_id, 'requested', batch.trigger, batch.member_count, batch.total_usd, batch.total_eth, batch.threshold_usd, ${sql.timestamp(now)}
    FROM unnest(
      ${sql.array(batches.map((batch) => batch.batchId), 'text')},
      ${sql.array(batches.map((batch) => batch.trigger.toLowerCase()), 'text')},
      ${sql.array(batches.map((batch) => batch.members.length), 'int4')},
      ${sql.array(batches.map((batch) => decimalText(batch.totalUsd)), 'numeric')},
      ${sql.array(batches.map((batch) => decimalText(batch.totalEth)), 'numeric')},
      ${sql.array(batches.map((batch) => decimalText(batch.thresholdUsd)), 'numeric')}
    ) AS batch (batch_id, trigger, member_count, total_usd, total_eth, threshold_usd)
  `);

  const paymentIds = batches.flatMap((batch) => batch.members.map((member) => member.paymentId));
  const batchIds = batches.flatMap((batch) => batch.members.map(() => batch.batchId));
  const moved = await transaction.any(sql.type(movedRow)`
    UPDATE payment_ledger AS ledger
    SET state = 'swapping', conversion_batch_id = member.batch_id, updated_at = ${sql.timestamp(now)}
    FROM unnest(${sql.array(paymentIds, 'text')}::text[], ${sql.array(batchIds, 'text')}::text[]) AS member(payment_id, batch_id)
    WHERE ledger.payment_id = member.payment_id AND ledger.state = 'pending_conversion'
    RETURNING ledger.payment_id, ledger.conversion_batch_id
  `);
  // The rows are locked FOR UPDATE since they were read, so every member must have moved; if one
  // did not, something else changed the ledger under the lock and this decision is void.
  const movedByBatch = new Map<string, number>();
  for (const row of moved) movedByBatch.set(row.conversion_batch_id, (movedByBatch.get(row.conversion_batch_id) ?? 0) + 1);
  for (const batch of batches) {
    assertInvariant(movedByBatch.get(batch.batchId) === batch.members.length, 'every member of a new batch moves from pending_conversion to swapping', {
      batchId: batch.batchId,
      members: batch.members.length,
      moved: movedByBatch.get(batch.batchId) ?? 0,
    });
  }
  await insertOutboxRecords(
    transaction,
    batches.map((batch) => conversionRequestOf(batch, now)),
  );
}

/**
 * Replaces the window's holds with what this decision holds; a hold that still stands keeps its
 * `since`, so an operator (and reconciliation) sees how long the money has waited for that reason.
 */
async function recordHolds(transaction: DatabaseTransactionConnection, holds: readonly WindowHold[], now: Date): Promise<void> {
  await transaction.query(sql.unsafe`
    DELETE FROM conversion_window_holds WHERE NOT (state = ANY(${sql.array(
      holds.map((hold) => hold.state),
      'text',
    )}::text[]))`);
  for (const hold of holds) {
    const totals = totalsOf(hold.payments);
    const oldest = hold.payments[0];
    assertInvariant(oldest !== undefined, 'a hold holds at least one payment', { state: hold.state });
    await transaction.query(sql.unsafe`
      INSERT INTO conversion_window_holds (state, reason, payment_count, held_usd, held_eth, oldest_received_at, since, updated_at)
      VALUES (${hold.state}, ${hold.reason}, ${hold.payments.length}, ${decimalValue(totals.usd)}, ${decimalValue(totals.eth)},
              ${sql.timestamp(oldest.receivedAt)}, ${sql.timestamp(now)}, ${sql.timestamp(now)})
      ON CONFLICT (state) DO UPDATE SET reason = EXCLUDED.reason, payment_count = EXCLUDED.payment_count, held_usd = EXCLUDED.held_usd,
        held_eth = EXCLUDED.held_eth, oldest_received_at = EXCLUDED.oldest_received_at, updated_at = EXCLUDED.updated_at`);
  }
}

export interface MicroBatchEvaluatorOptions {
  pool: DatabasePool;
  rules: WindowRules;
  now: () => Date;
  newBatchId: () => string;
  /** The exchange's range for ETH → USDT as known now (asked before the transaction); undefined: unknown. */
  conversionRange?: () => Promise<ConversionRange | undefined>;
}

export type MicroBatchEvaluator = () => Promise<WindowEvaluation>;

export function createMicroBatchEvaluator(options: MicroBatchEvaluatorOptions): MicroBatchEvaluator {
  const { pool, rules } = options;
  return async () => {
    const range = await options.conversionRange?.();
    return pool.transaction(async (transaction) => {
      await lockWindow(transaction);
      const threshold = await readThresholdInForce(transaction, rules);
      const pending = await lockPendingPayments(transaction);
      // Read after the lock was granted, so the max-wait decision is about the rows as they are now.
      const now = options.now();
      const decision = closeMicroBatches({
        pending,
        thresholdUsd: threshold.thresholdUsd,
        maxWaitMs: rules.maxWaitMs,
        membersMax: rules.membersMax,
        now,
        newBatchId: options.newBatchId,
        range,
      });
      if (decision.batches.length > 0) await recordBatches(transaction, decision.batches, now);
      await recordHolds(transaction, decision.holds, now);
      return { batches: decision.batches, threshold, remaining: decision.remaining, holds: decision.holds, now };
    });
  };
}

export interface WindowDescription {
  readonly pendingPayments: number;
  readonly pendingUsd: Decimal;
  readonly pendingEth: Decimal;
  readonly oldestReceivedAt: Date | null;
  /** When the oldest pending payment triggers MAX_WAIT, if nothing crosses the threshold before. */
  readonly maxWaitDueAt: Date | null;
  readonly thresholdUsd: Decimal;
  readonly thresholdSource: ThresholdInForce['source'];
  /** How much more pending USD closes a batch by the threshold. */
  readonly remainingToThresholdUsd: Decimal;
  /** Why due payments wait (the exchange's range), as the last evaluation recorded it. */
  readonly holds: readonly WindowHoldDescription[];
}

export interface WindowHoldDescription {
  readonly state: WindowHoldState;
  readonly reason: string;
  readonly paymentCount: number;
  readonly heldUsd: Decimal;
  readonly heldEth: Decimal;
  readonly oldestReceivedAt: Date;
  readonly since: Date;
}

const holdRow = z.object({
  state: z.enum(['below_exchange_minimum', 'above_exchange_maximum']),
  reason: z.string(),
  payment_count: z.number().int(),
  held_usd: decimal,
  held_eth: decimal,
  oldest_received_at: z.date(),
  since: z.date(),
});

const windowSummaryRow = z.object({
  pending_payments: z.number().int(),
  pending_usd: decimal,
  pending_eth: decimal,
  oldest_received_at: z.date().nullable(),
});

/** What an operator asks about the window: what is pending, against which threshold, from where. */
export async function describeWindow(connection: CommonQueryMethods, rules: WindowRules): Promise<WindowDescription> {
  const threshold = await readThresholdInForce(connection, rules);
  const summary = await connection.one(sql.type(windowSummaryRow)`
    SELECT count(*)::int4 AS pending_payments,
           coalesce(sum(usd_net), 0) AS pending_usd,
           coalesce(sum(eth_net), 0) AS pending_eth,
           min(received_at) AS oldest_received_at
    FROM payment_ledger WHERE state = 'pending_conversion'
  `);
  const remaining = threshold.thresholdUsd.minus(summary.pending_usd);
  const holds = await connection.any(sql.type(holdRow)`
    SELECT state, reason, payment_count, held_usd, held_eth, oldest_received_at, since FROM conversion_window_holds ORDER BY state`);
  return {
    pendingPayments: summary.pending_payments,
    pendingUsd: summary.pending_usd,
    pendingEth: summary.pending_eth,
    oldestReceivedAt: summary.oldest_received_at,
    maxWaitDueAt: summary.oldest_received_at === null ? null : new Date(summary.oldest_received_at.getTime() + rules.maxWaitMs),
    thresholdUsd: threshold.thresholdUsd,
    thresholdSource: threshold.source,
    remainingToThresholdUsd: remaining.greaterThan(0) ? remaining : new Decimal(0),
    holds: holds.map((row) => ({
      state: row.state,
      reason: row.reason,
      paymentCount: row.payment_count,
      heldUsd: row.held_usd,
      heldEth: row.held_eth,
      oldestReceivedAt: row.oldest_received_at,
      since: row.since,
    })),
  };
}
