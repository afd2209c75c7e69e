// Settlement's read model, served by the admin API (settlement-routes.ts): a client's balance rows,
// a payout batch's lineage, and what settlement did with an operator's requests. Reads only: every
// write to settlement's tables is settlement's own (docs/ownership.md).
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { payoutBatchesTableRow } from '../../db/payout-batches-table.ts';
import type { Decimal } from '../../core/money.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { parseNumeric, parseTimestamp } from '../../db/pool.ts';
import { destinationInForce } from '../../core/client-payout-config.ts';
import type { BalanceInput, FreeGroupRow, HoldRow, OpenBatchRow, UnconvertedRow } from './client-balance.ts';

const decimal = decimalColumn;

// The balance's lists arrive as JSON arrays (one statement, see loadClientBalance). pg JSON.parses
// a json column, so every NUMERIC and timestamptz inside is sent as PostgreSQL's text and parsed
// here with the pool's own parsers: a Decimal exactly as the driver would make it, never a JS number.
const numericText = z.string().transform(parseNumeric);
const timestamptzText = z.string().transform((value) => parseTimestamp(value, true));

const freeGroupRow = z.object({
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  unpaid_usdt: numericText,
  credits: z.number().int(),
  oldest_credited_at: timestamptzText,
});

const holdRow = z.object({
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  state: z.enum(['below_exchange_minimum', 'above_exchange_maximum', 'fee_floor_not_met', 'quote_unavailable']),
  reason: z.string(),
  unpaid_usdt: numericText,
  minimum_usdt: numericText.nullable(),
  estimated_fee_usdt: numericText.nullable(),
  evaluated_at: timestamptzText,
});

const openBatchRow = z.object({
  batch_id: z.string(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  state: z.enum(['requested', 'swapping', 'failed']),
  reason: payoutBatchesTableRow.shape.reason,
  source_currency: z.string(),
  source_amount: numericText,
  credits: z.number().int(),
  exchange_id: z.string().nullable(),
  exchange_status: z.string().nullable(),
  failure_reason: z.string().nullable(),
  attempts: z.number().int(),
  next_retry_at: timestamptzText.nullable(),
  retries_exhausted_at: timestamptzText.nullable(),
  created_at: timestamptzText,
});

const needsRecoveryRow = z.object({ batch_id: z.string(), payments: z.number().int(), usd_net: numericText, reason: z.string() });

const balanceRow = z.object({
  client_id: z.string(),
  strategy: z.string(),
  threshold_usd: decimal.nullable(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  pending_wallet_address: z.string().nullable(),
  pending_wallet_effective_at: z.date().nullable(),
  free_groups: z.array(freeGroupRow),
  holds: z.array(holdRow),
  open_batches: z.array(openBatchRow),
  unconverted_payments: z.number().int(),
  unconverted_usd_net: decimal,
  unconverted_swapping: z.number().int(),
  unconverted_returned: z.number().int(),
  unconverted_oldest_received_at: z.date().nullable(),
  needs_recovery: z.array(needsRecoveryRow),
  credited_usdt: decimal,
  paid_out_usdt: decimal,
  unpaid_usdt: decimal,
});

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

/**
 * The one statement GET /api/clients/:clientId/balance runs: one row for a registered client (none
 * for an unknown one) carrying the client, its free groups (the credits unpaid_credit_states, which
 * the payout window decides on, calls free), holds, open payout batches, unconverted payments,
 * payments needing recovery and credit totals. Exported so bench/balance-query.ts EXPLAINs exactly this text.
 */
export function clientBalanceQuery(clientId: string) {
  return sql.type(balanceRow)`
    SELECT c.client_id, c.strategy, c.threshold_usd, c.wallet_address, c.payout_currency, c.payout_network,
           c.pending_wallet_address, c.pending_wallet_effective_at,
           (SELECT coalesce(json_agg(json_build_object(
                     'wallet_address', g.wallet_address, 'payout_currency', g.payout_currency, 'payout_network', g.payout_network,
                     'unpaid_usdt', g.unpaid_usdt::text, 'credits', g.credits, 'oldest_credited_at', g.oldest_credited_at::text)
                   ORDER BY g.oldest_credited_at, g.wallet_address, g.payout_currency, g.payout_network), '[]'::json)
            FROM (SELECT wallet_address, payout_currency, payout_network, sum(usdt_amount) AS unpaid_usdt, count(*)::int AS credits,
                         min(credited_at) AS oldest_credited_at
                  -- unpaid_credit_states' 'free' as an anti-join: the view probes the payout memberships
                  -- once per unpaid credit (41 ms for a client with 10,000 of them), while only the
                  -- client's few batches awaiting a retry hold credits, which is one small hash.
                  FROM usdt_credits c
                  WHERE c.client_id = ${clientId} AND c.paid_out_at IS NULL AND c.payout_batch_id IS NULL
                    AND NOT EXISTS (SELECT 1 FROM credits_held_for_retry h WHERE h.client_id = ${clientId} AND h.credit_id = c.credit_id)
                  GROUP BY wallet_address, payout_currency, payout_network) g) AS free_groups,
           (SELECT coalesce(json_agg(json_build_object(
                     'wallet_address', h.wallet_address, 'payout_currency', h.payout_currency, 'payout_network', h.payout_network,
                     'state', h.state, 'reason', h.reason, 'unpaid_usdt', h.unpaid_usdt::text, 'minimum_usdt', h.minimum_usdt::text,
                     'estimated_fee_usdt', h.estimated_fee_usdt::text, 'evaluated_at', h.evaluated_at::text)), '[]'::json)
            FROM payout_group_holds h WHERE h.client_id = ${clientId}) AS holds,
           -- Live batches, and failed ones still waiting for (or needing) their retry.
           (SELECT coalesce(json_agg(json_build_object(
                     'batch_id', p.batch_id, 'wallet_address', p.wallet_address, 'payout_currency', p.payout_currency,
                     'payout_network', p.payout_network, 'state', p.state, 'reason', p.reason, 'source_currency', p.source_currency,
                     'source_amount', p.source_amount::text,
                     'credits', (SELECT count(*)::int FROM payout_batch_members m WHERE m.payout_batch_id = p.batch_id),
                     'exchange_id', p.exchange_id, 'exchange_status', p.exchange_status, 'failure_reason', p.failure_reason,
                     'attempts', p.attempts, 'next_retry_at', p.next_retry_at::text, 'retries_exhausted_at', p.retries_exhausted_at::text,
                     'created_at', p.created_at::text)
                   ORDER BY p.created_at, p.batch_id), '[]'::json)
            FROM payout_batches p
            WHERE p.client_id = ${clientId}
              AND (p.state IN ('requested', 'swapping')
                   OR (p.batch_id IN (SELECT a.batch_id FROM payout_batches_awaiting_retry a WHERE a.client_id = ${clientId})
                       AND (p.next_retry_at IS NOT NULL OR p.retries_exhausted_at IS NOT NULL)))) AS open_batches,
           u.payments AS unconverted_payments, u.usd_net AS unconverted_usd_net, u.swapping AS unconverted_swapping,
           u.returned AS unconverted_returned, u.oldest_received_at AS unconverted_oldest_received_at,
           (SELECT coalesce(json_agg(json_build_object('batch_id', r.batch_id, 'payments', r.payments, 'usd_net', r.usd_net::text, 'reason', r.reason)
                   ORDER BY r.first_failed_at, r.batch_id), '[]'::json)
            FROM (SELECT l.conversion_batch_id AS batch_id, count(*)::int AS payments, sum(l.usd_net) AS usd_net,
                         coalesce(min(b.failure_reason), 'no reason') AS reason, min(b.failed_at) AS first_failed_at
                  FROM payment_ledger l JOIN conversion_batches b ON b.batch_id = l.conversion_batch_id
                  WHERE l.client_id = ${clientId} AND l.state = 'needs_recovery'
                  GROUP BY l.conversion_batch_id) r) AS needs_recovery,
           t.credited_usdt, t.paid_out_usdt, t.unpaid_usdt
    FROM clients c
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS payments, coalesce(sum(l.usd_net), 0) AS usd_net,
             (count(*) FILTER (WHERE l.state = 'swapping'))::int AS swapping,
             (count(*) FILTER (WHERE l.state = 'pending_conversion'
                AND EXISTS (SELECT 1 FROM conversion_batch_members m WHERE m.payment_id = l.payment_id AND m.released_at IS NOT NULL)))::int AS returned,
             min(l.received_at) AS oldest_received_at
      FROM payment_ledger l WHERE l.client_id = ${clientId} AND l.state IN ('pending_conversion', 'swapping')) u
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(usdt_amount), 0) AS credited_usdt,
             coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NOT NULL), 0) AS paid_out_usdt,
             coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NULL), 0) AS unpaid_usdt
      FROM usdt_credits WHERE client_id = ${clientId}) t
    WHERE c.client_id = ${clientId}`;
}

/** Everything GET /api/clients/:clientId/balance shows, read in one snapshot; null for an unknown client. */
export async function loadClientBalance(pool: CommonQueryMethods, clientId: string, now: Date, maxAgeMs: number): Promise<ClientBalanceRows | null> {
  // ONE statement, so ONE snapshot: a statement sees the database as of its start in every
  // subquery, so a payout finishing meanwhile is never counted twice (in flight and paid) — the
  // consistency the REPEATABLE READ transaction of seven queries gave, without BEGIN, SET
  // TRANSACTION, six more round trips and COMMIT. No explicit transaction is needed; it reads only.
  const row = await pool.maybeOne(clientBalanceQuery(clientId));
  if (row === null) return null;
  const destination = destinationInForce(row, now);
  const keyOf = (group: { wallet_address: string; payout_currency: string; payout_network: string }) => ({
    clientId,
    walletAddress: group.wallet_address,
    payoutCurrency: group.payout_currency,
    payoutNetwork: group.payout_network,
  });
  const freeGroups: FreeGroupRow[] = row.free_groups.map((group) => ({
    key: keyOf(group),
    unpaidUsdt: group.unpaid_usdt,
    credits: group.credits,
    oldestCreditedAt: group.oldest_credited_at,
  }));
  const holds: HoldRow[] = row.holds.map((hold) => ({
    key: keyOf(hold),
    state: hold.state,
    reason: hold.reason,
    unpaidUsdt: hold.unpaid_usdt,
    minimumUsdt: hold.minimum_usdt,
    estimatedFeeUsdt: hold.estimated_fee_usdt,
    evaluatedAt: hold.evaluated_at,
  }));
  const openBatches: OpenBatchRow[] = row.open_batches.map((batch) => ({
    batchId: batch.batch_id,
    key: keyOf(batch),
    state: batch.state,
    reason: batch.reason,
    sourceCurrency: batch.source_currency,
    sourceAmount: batch.source_amount,
    credits: batch.credits,
    exchangeId: batch.exchange_id,
    exchangeStatus: batch.exchange_status,
    failureReason: batch.failure_reason,
    attempts: batch.attempts,
    nextRetryAt: batch.next_retry_at,
    retriesExhaustedAt: batch.retries_exhausted_at,
    createdAt: batch.created_at,
  }));
  const unconverted: UnconvertedRow = {
    payments: row.unconverted_payments,
    usdNet: row.unconverted_usd_net,
    swapping: row.unconverted_swapping,
    returnedFromFailedConversion: row.unconverted_returned,
    oldestReceivedAt: row.unconverted_oldest_received_at,
  };
  return {
    clientId,
    strategy: row.strategy,
    input: {
      thresholdUsd: row.strategy === 'instant' ? null : row.threshold_usd,
      destination: { walletAddress: destination.wallet_address, payoutCurrency: destination.payout_currency, payoutNetwork: destination.payout_network },
      freeGroups,
      holds,
      openBatches,
      unconverted,
      needsRecovery: row.needs_recovery.map((recovery) => ({ batchId: recovery.batch_id, payments: recovery.payments, usdNet: recovery.usd_net, reason: recovery.reason })),
      maxAgeMs,
      now,
    },
    totals: { creditedUsdt: row.credited_usdt, paidOutUsdt: row.paid_out_usdt, unpaidUsdt: row.unpaid_usdt },
  };
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
