// The JSON of the settlement endpoints. Amounts and rates are decimal strings (never JSON numbers),
// times ISO 8601 in UTC. Rates are derived for reading (quotients rounded to 18 significant
// digits); the amounts they come from are exact and shown beside them.
import type { Decimal } from '../../core/money.ts';
import type { Violation } from '../../db/reconciliation.ts';
import type { Finding, WaitingItem } from '../../db/liveness.ts';
import type { BalanceGroup } from './client-balance.ts';
import type { BalanceTotals, CreditLineageRow, InstantPaymentRow, PayoutBatchRow, PayoutLineageRows, RetryRequestRow, TriggerRequestRow } from './settlement-read-model.ts';

const rateDigits = 18;

function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

function text(value: Decimal | null): string | null {
  return value === null ? null : value.toFixed();
}

/** numerator / denominator as a readable rate, or null when either side is unknown or zero. */
function rate(numerator: Decimal | null, denominator: Decimal | null): string | null {
  if (numerator === null || denominator === null || denominator.isZero()) return null;
  return numerator.div(denominator).toSignificantDigits(rateDigits).toFixed();
}

export function balanceView(clientId: string, strategy: string, thresholdUsd: Decimal | null, totals: BalanceTotals, groups: readonly BalanceGroup[]) {
  return {
    client_id: clientId,
    strategy,
    threshold_usd: text(thresholdUsd),
    totals: { credited_usdt: totals.creditedUsdt.toFixed(), paid_out_usdt: totals.paidOutUsdt.toFixed(), unpaid_usdt: totals.unpaidUsdt.toFixed() },
    groups: groups.map((group) => ({
      state: group.state,
      reason: group.reason,
      wallet_address: group.walletAddress,
      payout_currency: group.payoutCurrency,
      payout_network: group.payoutNetwork,
      amount: group.amount.toFixed(),
      currency: group.currency,
      credits: group.credits,
      amount_missing_usdt: text(group.amountMissingUsdt),
      max_age_due_at: iso(group.maxAgeDueAt),
      payout_batch_id: group.payoutBatchId,
      exchange_status: group.exchangeStatus,
      error: group.error,
      next_attempt_at: iso(group.nextAttemptAt),
      attempts: group.attempts,
    })),
  };
}

function paymentView(row: CreditLineageRow | InstantPaymentRow) {
  return {
    payment_id: row.payment_id,
    received_at: row.received_at.toISOString(),
    ledger_state: row.ledger_state,
    paid_out_at: iso(row.paid_out_at),
    usd_gross: row.usd_gross.toFixed(),
    eth_gross: row.eth_gross.toFixed(),
    // Hop 1, USD → ETH: what the subscriber's payment was worth, and what the platform kept.
    usd_per_eth: rate(row.usd_gross, row.eth_gross),
    platform_fee_percent: row.fee_percent.toFixed(),
    platform_fee_usd: row.platform_fee_usd.toFixed(),
    platform_fee_eth: row.platform_fee_eth.toFixed(),
    usd_net: row.usd_net.toFixed(),
    eth_net: row.eth_net.toFixed(),
  };
}

function creditView(row: CreditLineageRow) {
  return {
    credit_id: row.credit_id,
    usdt_amount: row.usdt_amount.toFixed(),
    exact_share_base_units: row.exact_share,
    rounding_applied_usdt: row.rounding_applied.toFixed(),
    credited_at: row.credited_at.toISOString(),
    paid_out_at: iso(row.credit_paid_out_at),
    membership: { joined_at: row.joined_at.toISOString(), released_at: iso(row.released_at), release_reason: row.release_reason },
    payment: paymentView(row),
    // Hop 2, ETH → USDT: the global micro-batch this payment was converted in, shared by USD value.
    conversion: {
      batch_id: row.conversion_batch_id,
      state: row.conversion_state,
      total_usd: row.conversion_total_usd.toFixed(),
      total_eth: row.conversion_total_eth.toFixed(),
      eth_sent: text(row.conversion_eth_sent),
      usdt_received: text(row.conversion_usdt_received),
      usdt_per_eth: rate(row.conversion_usdt_received, row.conversion_eth_sent ?? row.conversion_total_eth),
      usdt_per_usd: rate(row.conversion_usdt_received, row.conversion_total_usd),
      exchange_id: row.conversion_exchange_id,
      payin_hash: row.conversion_payin_hash,
      payout_hash: row.conversion_payout_hash,
      finished_at: iso(row.conversion_finished_at),
    },
  };
}

function batchView(batch: PayoutBatchRow) {
  return {
    batch_id: batch.batch_id,
    client_id: batch.client_id,
    reason: batch.reason,
    state: batch.state,
    wallet_address: batch.wallet_address,
    payout_currency: batch.payout_currency,
    payout_network: batch.payout_network,
    source_currency: batch.source_currency,
    source_amount: batch.source_amount.toFixed(),
    usd_value: batch.usd_value.toFixed(),
    payout_amount: text(batch.payout_amount),
    // Last hop, source → client currency: what one unit of the source currency paid out.
    payout_per_source_unit: rate(batch.payout_amount, batch.source_amount),
    exchange_id: batch.exchange_id,
    exchange_status: batch.exchange_status,
    payin_hash: batch.payin_hash,
    payout_hash: batch.payout_hash,
    failure_reason: batch.failure_reason,
    attempts: batch.attempts,
    retry_of: batch.retry_of,
    origin_batch_id: batch.origin_batch_id,
    next_retry_at: iso(batch.next_retry_at),
    retry_requested_by: batch.retry_requested_by,
    retries_exhausted_at: iso(batch.retries_exhausted_at),
    requested_by: batch.requested_by,
    created_at: batch.created_at.toISOString(),
    completed_at: iso(batch.completed_at),
    failed_at: iso(batch.failed_at),
  };
}

export function lineageView(lineage: PayoutLineageRows) {
  return {
    payout_batch: batchView(lineage.batch),
    retry_chain: lineage.chain.map((batch) => ({ batch_id: batch.batch_id, state: batch.state, attempts: batch.attempts, failure_reason: batch.failure_reason, created_at: batch.created_at.toISOString() })),
    credits: lineage.credits.map(creditView),
    instant_payments: lineage.instantPayments.map(paymentView),
  };
}

export function triggerRequestView(request: TriggerRequestRow) {
  return {
    request_id: request.request_id,
    client_id: request.client_id,
    requested_by: request.requested_by,
    requested_at: request.requested_at.toISOString(),
    status: request.handled_at === null ? 'open' : 'handled',
    handled_at: iso(request.handled_at),
    outcome: request.outcome,
  };
}

/** An operator's retry request: open until settlement handled it; then its outcome and, when scheduled, the retry's time. */
export function retryRequestView(request: RetryRequestRow) {
  return {
    request_id: request.request_id,
    batch_id: request.batch_id,
    requested_by: request.requested_by,
    requested_at: request.requested_at.toISOString(),
    status: request.handled_at === null ? 'open' : 'handled',
    handled_at: iso(request.handled_at),
    outcome: request.outcome,
    retry_at: iso(request.retry_at),
    detail: request.detail,
  };
}

export function reconciliationView(violations: readonly Violation[], unroutedPayments: number, checkedAt: Date, findings: readonly Finding[], waiting: readonly WaitingItem[]) {
  const ageSeconds = (since: Date) => Math.max(0, Math.floor((checkedAt.getTime() - since.getTime()) / 1_000));
  return {
    // `ok` stays about safety only, as before; liveness has its own flag.
    ok: violations.length === 0,
    liveness_ok: findings.length === 0,
    checked_at: checkedAt.toISOString(),
    violations,
    unrouted_payments: unroutedPayments,
    findings: findings.map((finding) => ({
      finding_id: finding.findingId,
      kind: finding.kind,
      subject: finding.subject,
      severity: finding.severity,
      detail: finding.detail,
      since: finding.since.toISOString(),
      age_seconds: ageSeconds(finding.since),
    })),
    waiting: waiting.map((item) => ({
      state: item.state,
      subject: item.subject,
      reason: item.reason,
      amount: item.amount.toFixed(),
      currency: item.currency,
      since: item.since.toISOString(),
      age_seconds: ageSeconds(item.since),
    })),
  };
}
