// What the list endpoints answer for each row (api-schemas.ts types it), and the one line a client
// row says about its money. Pure.
import type { AlertListItem, ClientListItem, ConversionBatchListItem, PayoutBatchListItem } from './api-schemas.ts';
import type { AlertListRow, ClientListRow, ConversionBatchListRow, PayoutBatchListRow } from './list-store.ts';

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null): string | null => date?.toISOString() ?? null;

/**
 * A client's state in one word, the most pressing first: money stuck in a failed conversion, a
 * payout failed and not yet retried, a payout on its way, a group held by the exchange's limits or
 * fees, credits due or below the threshold, payments not yet converted, or nothing owed. The
 * balance route (GET /api/clients/:id/balance) explains every group in detail.
 */
export function clientStateOf(row: ClientListRow): Pick<ClientListItem, 'state' | 'reason'> {
  if (row.needs_recovery > 0) return { state: 'needs_recovery', reason: `${row.needs_recovery} payment(s) in a failed conversion waiting for an operator's recovery` };
  if (row.failed > 0) return { state: 'failed_retrying', reason: `${row.failed} failed payout batch(es) not yet retried` };
  if (row.in_flight > 0) return { state: 'payout_in_flight', reason: `${row.in_flight} payout batch(es) requested or swapping` };
  if (row.hold_reason !== null && row.unpaid_usdt.gt(0)) return { state: 'held', reason: row.hold_reason };
  if (row.unpaid_usdt.gt(0)) {
    if (row.strategy === 'threshold' && row.threshold_usd !== null && row.unpaid_usdt.lt(row.threshold_usd)) {
      return { state: 'below_threshold', reason: `${row.unpaid_usdt.toFixed()} USDT unpaid, threshold ${row.threshold_usd.toFixed()} USD` };
    }
    return { state: 'payout_due', reason: `${row.unpaid_usdt.toFixed()} USDT unpaid and due at the next payout window` };
  }
  if (row.unconverted_payments > 0) return { state: 'waiting_for_conversion', reason: `${row.unconverted_payments} payment(s) waiting for the next ETH → USDT conversion` };
  return { state: 'paid_up', reason: 'nothing unpaid' };
}

export function clientListItemOf(row: ClientListRow): ClientListItem {
  return {
    client_id: row.client_id,
    strategy: row.strategy,
    threshold_usd: row.threshold_usd?.toFixed() ?? null,
    payout_currency: row.payout_currency,
    payout_network: row.payout_network,
    unpaid_usdt: row.unpaid_usdt.toFixed(),
    unconverted_usd: row.unconverted_usd.toFixed(),
    ...clientStateOf(row),
    last_payout:
      row.last_batch_id === null || row.last_state === null || row.last_created_at === null
        ? null
        : { batch_id: row.last_batch_id, state: row.last_state, created_at: iso(row.last_created_at), completed_at: isoOrNull(row.last_completed_at), payout_hash: row.last_payout_hash },
    created_at: iso(row.created_at),
  };
}

export function payoutBatchListItemOf(row: PayoutBatchListRow): PayoutBatchListItem {
  return {
    batch_id: row.batch_id,
    client_id: row.client_id,
    reason: row.reason,
    state: row.state,
    payout_currency: row.payout_currency,
    payout_network: row.payout_network,
    source_currency: row.source_currency,
    source_amount: row.source_amount.toFixed(),
    usd_value: row.usd_value.toFixed(),
    payout_amount: row.payout_amount?.toFixed() ?? null,
    payout_hash: row.payout_hash,
    failure_reason: row.failure_reason,
    attempts: row.attempts,
    retry_of: row.retry_of,
    created_at: iso(row.created_at),
    completed_at: isoOrNull(row.completed_at),
  };
}

export function conversionBatchListItemOf(row: ConversionBatchListRow): ConversionBatchListItem {
  return {
    batch_id: row.batch_id,
    state: row.state,
    trigger: row.trigger,
    member_count: row.member_count,
    total_usd: row.total_usd.toFixed(),
    total_eth: row.total_eth.toFixed(),
    usdt_received: row.usdt_received?.toFixed() ?? null,
    exchange_id: row.exchange_id,
    exchange_status: row.exchange_status,
    failure_reason: row.failure_reason,
    created_at: iso(row.created_at),
    finished_at: isoOrNull(row.finished_at),
    failed_at: isoOrNull(row.failed_at),
  };
}

export function alertListItemOf(row: AlertListRow): AlertListItem {
  return {
    finding_id: row.finding_id,
    kind: row.kind,
    subject: row.subject,
    severity: row.severity,
    detail: row.detail,
    open: row.cleared_at === null,
    first_seen_at: iso(row.first_seen_at),
    last_seen_at: iso(row.last_seen_at),
    last_alerted_at: iso(row.last_alerted_at),
    alerts_emitted: row.alerts_emitted,
    cleared_at: isoOrNull(row.cleared_at),
  };
}
