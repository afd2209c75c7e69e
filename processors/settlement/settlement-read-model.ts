// Settlement's read model, served by the admin API (settlement-routes.ts): a client's balance rows,
// a payout batch's lineage, and what settlement did with an operator's requests. Reads only: every
// write to settlement's tables is settlement's own (docs/ownership.md).
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { payoutBatchesTableRow } from '../../db/payout-batches-table.ts';
import type { Decimal } from '../../core/money.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { destinationInForce } from '../../core/client-payout-config.ts';
import type { BalanceInput, FreeGroupRow, HoldRow, OpenBatchRow, UnconvertedRow } from './client-balance.ts';

const decimal = decimalColumn;

const clientRow = z.object({
  client_id: z.string(),
  strategy: z.string(),
  threshold_usd: decimal.nullable(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  pending_wallet_address: z.string().nullable(),
  pending_wallet_effective_at: z.date().nullable(),
});

const freeGroupRow = z.object({
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  unpaid_usdt: decimal,
  credits: z.number().int(),
  oldest_credited_at: z.date(),
});

const holdRow = z.object({
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  state: z.enum(['below_exchange_minimum', 'above_exchange_maximum', 'fee_floor_not_met', 'quote_unavailable']),
  reason: z.string(),
  unpaid_usdt: decimal,
  minimum_usdt: decimal.nullable(),
  estimated_fee_usdt: decimal.nullable(),
  evaluated_at: z.date(),
});

const openBatchRow = payoutBatchesTableRow.pick({
  batch_id: true, wallet_address: true, payout_currency: true, payout_network: true, reason: true,
  source_currency: true, source_amount: true, exchange_id: true, exchange_status: true,
  failure_reason: true, attempts: true, next_retry_at: true, retries_exhausted_at: true, created_at:
  true,
}).extend({
  state: z.enum(['requested', 'swapping', 'failed']),
  credits: z.number().int(),
});

const unconvertedRow = z.object({
  payments: z.number().int(),
  usd_net: decimal,
  swapping: z.number().int(),
  returned: z.number().int(),
  oldest_received_at: z.date().nullable(),
});

const needsRecoveryRow = z.object({ batch_id: z.string(), payments: z.number().int(), usd_net: decimal, reason: z.string() });

const totalsRow = z.object({ credited_usdt: decimal, paid_out_usdt: decimal, unpaid_usdt: decimal });

export interface BalanceTotals {
  readonly creditedUsdt: Decimal;
  readonly paidOutUsdt: Decimal;
  readonly unpaidUsdt: Decimal;
}

export interface ClientBalanceRows {
  readonly clientId: string;
  readonly strategy: string;
  readonly input: BalanceInput;
  readonly totals: BalanceTotals;
}

/** Everything GET /api/clients/:clientId/balance shows, read in one snapshot; null for an unknown client. */
export async function loadClientBalance(pool: DatabasePool, clientId: string, now: Date, maxAgeMs: number): Promise<ClientBalanceRows | null> {
  // One REPEATABLE READ snapshot, so a payout finishing between two queries is never counted twice.
  return pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`);
    const client = await transaction.maybeOne(sql.type(clientRow)`
      SELECT client_id, strategy, threshold_usd, wallet_address, payout_currency, payout_network, pending_wallet_address, pending_wallet_effective_at
      FROM clients WHERE client_id = ${clientId}`);
    if (client === null) return null;
    const destination = destinationInForce(client, now);
    const keyOf = (row: { wallet_address: string; payout_currency: string; payout_network: string }) => ({
      clientId,
      walletAddress: row.wallet_address,
      payoutCurrency: row.payout_currency,
      payoutNetwork: row.payout_network,
    });
    const freeGroups: FreeGroupRow[] = (
      await transaction.any(sql.type(freeGroupRow)`
        SELECT wallet_address, payout_currency, payout_network, sum(usdt_amount) AS unpaid_usdt, count(*)::int AS credits, min(credited_at) AS oldest_credited_at
        FROM unpaid_credit_states WHERE client_id = ${clientId} AND window_state = 'free'
        GROUP BY wallet_address, payout_currency, payout_network
        ORDER BY min(credited_at), wallet_address, payout_currency, payout_network`)
    ).map((row) => ({ key: keyOf(row), unpaidUsdt: row.unpaid_usdt, credits: row.credits, oldestCreditedAt: row.oldest_credited_at }));
    const holds: HoldRow[] = (
      await transaction.any(sql.type(holdRow)`
        SELECT wallet_address, payout_currency, payout_network, state, reason, unpaid_usdt, minimum_usdt, estimated_fee_usdt, evaluated_at
        FROM payout_group_holds WHERE client_id = ${clientId}`)
    ).map((row) => ({
      key: keyOf(row),
      state: row.state,
      reason: row.reason,
      unpaidUsdt: row.unpaid_usdt,
      minimumUsdt: row.minimum_usdt,
      estimatedFeeUsdt: row.estimated_fee_usdt,
      evaluatedAt: row.evaluated_at,
    }));
    // Live batches, and failed ones still waiting for (or needing) their retry.
    const openBatches: OpenBatchRow[] = (
      await transaction.any(sql.type(openBatchRow)`
        SELECT p.batch_id, p.wallet_address, p.payout_currency, p.payout_network, p.state, p.reason, p.source_currency, p.source_amount,
               (SELECT count(*)::int FROM payout_batch_members m WHERE m.payout_batch_id = p.batch_id) AS credits,
               p.exchange_id, p.exchange_status, p.failure_reason, p.attempts, p.next_retry_at, p.retries_exhausted_at, p.created_at
        FROM payout_batches p
        WHERE p.client_id = ${clientId}
          AND (p.state IN ('requested', 'swapping')
               OR (p.state = 'failed' AND NOT EXISTS (SELECT 1 FROM payout_batches r WHERE r.retry_of = p.batch_id)
                   AND (p.next_retry_at IS NOT NULL OR p.retries_exhausted_at IS NOT NULL)))
        ORDER BY p.created_at, p.batch_id`)
    ).map((row) => ({
      batchId: row.batch_id,
      key: keyOf(row),
      state: row.state,
      reason: row.reason,
      sourceCurrency: row.source_currency,
      sourceAmount: row.source_amount,
      credits: row.credits,
      exchangeId: row.exchange_id,
      exchangeStatus: row.exchange_status,
      failureReason: row.failure_reason,
      attempts: row.attempts,
      nextRetryAt: row.next_retry_at,
      retriesExhaustedAt: row.retries_exhausted_at,
      createdAt: row.created_at,
    }));
    const unconverted = await transaction.one(sql.type(unconvertedRow)`
      SELECT count(*)::int AS payments, coalesce(sum(l.usd_net), 0) AS usd_net,
             (count(*) FILTER (WHERE l.state = 'swapping'))::int AS swapping,
             (count(*) FILTER (WHERE l.state = 'pending_conversion'
                AND EXISTS (SELECT 1 FROM conversion_batch_members m WHERE m.payment_id = l.payment_id AND m.released_at IS NOT NULL)))::int AS returned,
             min(l.received_at) AS oldest_received_at
      FROM payment_ledger l WHERE l.client_id = ${clientId} AND l.state IN ('pending_conversion', 'swapping')`);
    const needsRecovery = await transaction.any(sql.type(needsRecoveryRow)`
      SELECT l.conversion_batch_id AS batch_id, count(*)::int AS payments, sum(l.usd_net) AS usd_net, coalesce(min(b.failure_reason), 'no reason') AS reason
      FROM payment_ledger l JOIN conversion_batches b ON b.batch_id = l.conversion_batch_id
      WHERE l.client_id = ${clientId} AND l.state = 'needs_recovery'
      GROUP BY l.conversion_batch_id ORDER BY min(b.failed_at), l.conversion_batch_id`);
    const totals = await transaction.one(sql.type(totalsRow)`
      SELECT coalesce(sum(usdt_amount), 0) AS credited_usdt,
             coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NOT NULL), 0) AS paid_out_usdt,
             coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NULL), 0) AS unpaid_usdt
      FROM usdt_credits WHERE client_id = ${clientId}`);
    const unconvertedInput: UnconvertedRow = {
      payments: unconverted.payments,
      usdNet: unconverted.usd_net,
      swapping: unconverted.swapping,
      returnedFromFailedConversion: unconverted.returned,
      oldestReceivedAt: unconverted.oldest_received_at,
    };
    return {
      clientId,
      strategy: client.strategy,
      input: {
        thresholdUsd: client.strategy === 'instant' ? null : client.threshold_usd,
        destination: { walletAddress: destination.wallet_address, payoutCurrency: destination.payout_currency, payoutNetwork: destination.payout_network },
        freeGroups,
        holds,
        openBatches,
        unconverted: unconvertedInput,
        needsRecovery: needsRecovery.map((row) => ({ batchId: row.batch_id, payments: row.payments, usdNet: row.usd_net, reason: row.reason })),
        maxAgeMs,
        now,
      },
      totals: { creditedUsdt: totals.credited_usdt, paidOutUsdt: totals.paid_out_usdt, unpaidUsdt: totals.unpaid_usdt },
    };
  });
}

// ---- lineage ----------------------------------------------------------------------------------

const payoutBatchRow = payoutBatchesTableRow.pick({
  batch_id: true, client_id: true, reason: true, state: true, wallet_address: true, payout_currency:
  true, payout_network: true, source_currency: true, source_amount: true, usd_value: true,
  exchange_id: true, exchange_status: true, payin_hash: true, payout_hash: true, payout_amount: true,
  failure_reason: true, attempts: true, retry_of: true, origin_batch_id: true, next_retry_at: true,
  retry_requested_by: true, retries_exhausted_at: true, requested_by: true, created_at: true,
  completed_at: true, failed_at: true,
});
export type PayoutBatchRow = z.infer<typeof payoutBatchRow>;

const paymentColumns = {
  payment_id: z.string(),
  received_at: z.date(),
  fee_percent: decimal,
  usd_gross: decimal,
  platform_fee_usd: decimal,
  usd_net: decimal,
  eth_gross: decimal,
  platform_fee_eth: decimal,
  eth_net: decimal,
  ledger_state: z.string(),
  paid_out_at: z.date().nullable(),
};

const creditLineageRow = z.object({
  credit_id: z.string(),
  usdt_amount: decimal,
  exact_share: z.string(),
  rounding_applied: decimal,
  credited_at: z.date(),
  credit_paid_out_at: z.date().nullable(),
  joined_at: z.date(),
  released_at: z.date().nullable(),
  release_reason: z.string().nullable(),
  ...paymentColumns,
  conversion_batch_id: z.string(),
  conversion_state: z.string(),
  conversion_total_usd: decimal,
  conversion_total_eth: decimal,
  conversion_eth_sent: decimal.nullable(),
  conversion_usdt_received: decimal.nullable(),
  conversion_exchange_id: z.string().nullable(),
  conversion_payin_hash: z.string().nullable(),
  conversion_payout_hash: z.string().nullable(),
  conversion_finished_at: z.date().nullable(),
});
export type CreditLineageRow = z.infer<typeof creditLineageRow>;

const instantPaymentRow = z.object(paymentColumns);
export type InstantPaymentRow = z.infer<typeof instantPaymentRow>;

export interface PayoutLineageRows {
  readonly batch: PayoutBatchRow;
  /** Every batch of its retry chain (the first one and its retries), oldest first. */
  readonly chain: readonly PayoutBatchRow[];
  readonly credits: readonly CreditLineageRow[];
  /** For an instant payout: the one payment it pays. */
  readonly instantPayments: readonly InstantPaymentRow[];
}

const batchColumns = sql.fragment`
  batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency, source_amount, usd_value,
  exchange_id, exchange_status, payin_hash, payout_hash, payout_amount, failure_reason, attempts, retry_of, origin_batch_id, next_retry_at,
  retry_requested_by, retries_exhausted_at, requested_by, created_at, completed_at, failed_at`;

export async function loadPayoutLineage(connection: CommonQueryMethods, batchId: string): Promise<PayoutLineageRows | null> {
  const batch = await connection.maybeOne(sql.type(payoutBatchRow)`SELECT ${batchColumns} FROM payout_batches WHERE batch_id = ${batchId}`);
  if (batch === null) return null;
  const origin = batch.origin_batch_id ?? batch.batch_id;
  const chain = await connection.any(sql.type(payoutBatchRow)`
    SELECT ${batchColumns} FROM payout_batches WHERE batch_id = ${origin} OR origin_batch_id = ${origin} ORDER BY attempts, created_at, batch_id`);
  const credits = await connection.any(sql.type(creditLineageRow)`
    SELECT c.credit_id, c.usdt_amount, c.exact_share, c.rounding_applied, c.credited_at, c.paid_out_at AS credit_paid_out_at,
           m.joined_at, m.released_at, m.release_reason,
           l.payment_id, l.received_at, l.fee_percent, l.usd_gross, l.platform_fee_usd, l.usd_net, l.eth_gross, l.platform_fee_eth, l.eth_net,
           l.state AS ledger_state, l.paid_out_at,
           b.batch_id AS conversion_batch_id, b.state AS conversion_state, b.total_usd AS conversion_total_usd, b.total_eth AS conversion_total_eth,
           b.eth_sent AS conversion_eth_sent, b.usdt_received AS conversion_usdt_received, b.exchange_id AS conversion_exchange_id,
           b.payin_hash AS conversion_payin_hash, b.payout_hash AS conversion_payout_hash, b.finished_at AS conversion_finished_at
    FROM payout_batch_members m
    JOIN usdt_credits c ON c.credit_id = m.credit_id
    JOIN payment_ledger l ON l.payment_id = c.payment_id
    JOIN conversion_batches b ON b.batch_id = c.conversion_batch_id
    WHERE m.payout_batch_id = ${batchId}
    ORDER BY c.credited_at, c.credit_id`);
  const instantPayments = await connection.any(sql.type(instantPaymentRow)`
    SELECT payment_id, received_at, fee_percent, usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net, state AS ledger_state, paid_out_at
    FROM payment_ledger WHERE payout_batch_id = ${origin} AND state = 'instant_payout'`);
  return { batch, chain, credits, instantPayments };
}

// ---- operator requests --------------------------------------------------------------------------

export const triggerRequestRow = z.object({
  request_id: z.string(),
  client_id: z.string(),
  requested_by: z.string(),
  requested_at: z.date(),
  handled_at: z.date().nullable(),
  outcome: z.string().nullable(),
});
export type TriggerRequestRow = z.infer<typeof triggerRequestRow>;

export async function loadTriggerRequest(connection: CommonQueryMethods, requestId: string): Promise<TriggerRequestRow | null> {
  return connection.maybeOne(sql.type(triggerRequestRow)`
    SELECT request_id, client_id, requested_by, requested_at, handled_at, outcome FROM payout_trigger_requests WHERE request_id = ${requestId}`);
}

export const retryRequestRow = z.object({
  request_id: z.string(),
  batch_id: z.string(),
  requested_by: z.string(),
  requested_at: z.date(),
  handled_at: z.date().nullable(),
  outcome: z.enum(['retry_scheduled', 'not_failed', 'already_retried']).nullable(),
  retry_at: z.date().nullable(),
  detail: z.string().nullable(),
});
export type RetryRequestRow = z.infer<typeof retryRequestRow>;

export const retryRequestColumns = sql.fragment`request_id, batch_id, requested_by, requested_at, handled_at, outcome, retry_at, detail`;

export async function loadRetryRequest(connection: CommonQueryMethods, requestId: string): Promise<RetryRequestRow | null> {
  return connection.maybeOne(sql.type(retryRequestRow)`SELECT ${retryRequestColumns} FROM payout_retry_requests WHERE request_id = ${requestId}`);
}
