// Liveness (invariant 7 of the mission), checked over the whole database by SQL, beside the safety
// invariants of reconciliation.ts: the books can balance while money stands still. Two answers:
// - waiting: every amount not paid yet, with its state, reason and age (nothing to do about most of
//   it: a group below its threshold, a conversion in progress);
// - findings: waits that cannot clear by themselves, each with a stable id `<kind>:<subject>`, for
//   `cli reconcile` (exit code 3), GET /api/reconciliation and the alerts (liveness-alerts.ts).
//
// EXTENSION POINT: a new kind of finding is one more entry in `findingChecks` — a kind, a severity
// and a query returning (subject, detail, since). Nothing else changes: the exit code, the gauge,
// the alert records and the API pick it up.
import { sql, type CommonQueryMethods, type QuerySqlToken } from 'slonik';
import { z } from 'zod';
import { InvariantViolation } from '../core/errors.ts';
import type { Decimal } from '../core/money.ts';
import { decimalColumn } from './column-types.ts';

export type FindingSeverity = 'warning' | 'critical';

export interface Finding {
  /** `<kind>:<subject>`: stable while the finding stands, the alert's key. */
  readonly findingId: string;
  readonly kind: string;
  readonly subject: string;
  readonly severity: FindingSeverity;
  readonly detail: string;
  /** Since when the condition holds, as far as the data tells. */
  readonly since: Date;
}

export interface LivenessRules {
  /** PAYOUT_HOLD_ALERT_AFTER */
  readonly holdAlertAfterMs: number;
  /** PAYOUT_OVERDUE_ALERT_AFTER */
  readonly overdueAlertAfterMs: number;
  /** SWAP_STUCK_ALERT_AFTER */
  readonly stuckAlertAfterMs: number;
  /** DEAD_LETTER_ALERT_WINDOW */
  readonly deadLetterWindowMs: number;
}

const findingRow = z.object({ subject: z.string(), detail: z.string(), since: z.date() });

export interface FindingCheck {
  readonly kind: string;
  readonly severity: FindingSeverity;
  /** Rows that are findings now; `now` and the rules come in as values (time is injected). */
  readonly query: (rules: LivenessRules, now: Date) => QuerySqlToken<typeof findingRow>;
}

function before(now: Date, ms: number) {
  return sql.timestamp(new Date(now.getTime() - ms));
}

const groupSubject = sql.fragment`format('%s/%s/%s/%s', h.client_id, h.payout_currency, h.payout_network, h.wallet_address)`;

// Checks are plain SQL so an operator can run the same query by hand from this file.
export const findingChecks: readonly FindingCheck[] = [
  {
    // No exchange takes a single credit this large, and credits are never split: it waits forever.
    kind: 'payout_above_exchange_maximum',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT ${groupSubject} AS subject, format('%s USDT held: %s', h.unpaid_usdt, h.reason) AS detail, h.held_since AS since
      FROM payout_group_holds h WHERE h.state = 'above_exchange_maximum'`,
  },
  {
    // A quote failing for an hour is not a blip: the pair may be unavailable, or ChangeNow down.
    kind: 'payout_quote_unavailable',
    severity: 'warning',
    query: (rules, now) => sql.type(findingRow)`
      SELECT ${groupSubject} AS subject, format('%s USDT held since %s: %s', h.unpaid_usdt, h.held_since, h.reason) AS detail, h.held_since AS since
      FROM payout_group_holds h WHERE h.state = 'quote_unavailable' AND h.held_since <= ${before(now, rules.holdAlertAfterMs)}`,
  },
  {
    kind: 'client_overdue',
    severity: 'warning',
    query: (rules, now) => sql.type(findingRow)`
      SELECT s.client_id AS subject,
             format('%s USDT unpaid in %s credit(s), threshold %s USD, oldest credit %s', sum(s.usdt_amount), count(*), c.threshold_usd, min(s.credited_at)) AS detail,
             min(s.credited_at) AS since
      FROM unpaid_credit_states s JOIN clients c ON c.client_id = s.client_id
      WHERE c.strategy = 'threshold'
      GROUP BY s.client_id, c.threshold_usd
      HAVING sum(s.usdt_amount) >= c.threshold_usd AND min(s.credited_at) <= ${before(now, rules.overdueAlertAfterMs)}`,
  },
  {
    // Any credit off its exact share by a base unit or more, or shares not summing to what was
    // received: the distribution's guarantee broke somewhere (reconciliation also fails on the sum).
    kind: 'rounding_difference',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT b.batch_id AS subject,
             format('received %s USDT, credited %s; largest rounding %s', b.usdt_received, coalesce(sum(c.usdt_amount), 0), coalesce(max(abs(c.rounding_applied)), 0)) AS detail,
             coalesce(b.finished_at, b.created_at) AS since
      FROM conversion_batches b LEFT JOIN usdt_credits c ON c.conversion_batch_id = b.batch_id
      WHERE b.state = 'finished'
      GROUP BY b.batch_id, b.usdt_received, b.finished_at, b.created_at
      HAVING b.usdt_received IS DISTINCT FROM coalesce(sum(c.usdt_amount), 0) OR coalesce(max(abs(c.rounding_applied)), 0) >= 0.000001`,
  },
  {
    kind: 'conversion_stuck',
    severity: 'warning',
    query: (rules, now) => sql.type(findingRow)`
      SELECT b.batch_id AS subject,
             format('%s since %s (exchange %s, status %s), %s payments / %s USD', b.state, b.created_at, coalesce(b.exchange_id, 'none'), coalesce(b.exchange_status, 'none'), b.member_count, b.total_usd) AS detail,
             b.created_at AS since
      FROM conversion_batches b WHERE b.state IN ('requested', 'swapping') AND b.created_at <= ${before(now, rules.stuckAlertAfterMs)}`,
  },
  {
    kind: 'payout_stuck',
    severity: 'warning',
    query: (rules, now) => sql.type(findingRow)`
      SELECT p.batch_id AS subject,
             format('%s since %s (exchange %s, status %s), %s %s for client %s', p.state, p.created_at, coalesce(p.exchange_id, 'none'), coalesce(p.exchange_status, 'none'), p.source_amount, p.source_currency, p.client_id) AS detail,
             p.created_at AS since
      FROM payout_batches p WHERE p.state IN ('requested', 'swapping') AND p.created_at <= ${before(now, rules.stuckAlertAfterMs)}`,
  },
  {
    kind: 'payout_retries_exhausted',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT p.batch_id AS subject,
             format('failed after %s attempt(s): %s; %s %s for client %s; retry with POST /api/payout-batches/%s/retry', p.attempts + 1, p.failure_reason, p.source_amount, p.source_currency, p.client_id, p.batch_id) AS detail,
             p.retries_exhausted_at AS since
      FROM payout_batches_awaiting_retry p
      WHERE p.retries_exhausted_at IS NOT NULL AND p.next_retry_at IS NULL`,
  },
  {
    kind: 'conversion_needs_recovery',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT b.batch_id AS subject,
             format('failed after its pay-in (exchange %s, status %s, pay-in %s): %s; %s payments / %s ETH wait for an operator (POST /api/conversion-batches/%s/recovery)',
                    coalesce(r.exchange_id, 'none'), coalesce(r.exchange_status, 'none'), coalesce(r.payin_hash, 'unconfirmed'), r.reported_reason, b.member_count, b.total_eth, b.batch_id) AS detail,
             r.opened_at AS since
      FROM conversion_batches b JOIN conversion_recoveries r ON r.batch_id = b.batch_id
      WHERE b.state = 'needs_recovery' AND r.resolution IS NULL`,
  },
  {
    // Dead letters are written through the outbox, so its rows say when and where.
    kind: 'dead_letters',
    severity: 'warning',
    query: (rules, now) => sql.type(findingRow)`
      SELECT o.topic AS subject, format('%s dead letter(s) since %s; newest %s; "cli replay %s" puts them back', count(*), min(o.created_at), max(o.created_at), left(o.topic, -4)) AS detail,
             min(o.created_at) AS since
      FROM outbox o WHERE o.topic LIKE '%.dlq' AND o.created_at > ${before(now, rules.deadLetterWindowMs)}
      GROUP BY o.topic`,
  },
  {
    // A correctly signed IPN the webhook could not accept is money the provider says it received:
    // only an operator can reinject or dismiss it.
    kind: 'ipn_quarantined',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT q.quarantine_id::text AS subject,
             format('signed IPN%s held: %s (%s), received %s time(s); "cli quarantine show %s"', coalesce(' for payment ' || q.payment_id, ''), q.reason_field, q.reason_rule,
                    q.times_received, q.quarantine_id) AS detail,
             q.first_received_at AS since
      FROM ipn_quarantine q WHERE q.state = 'held'`,
  },
  {
    // A payment above the exchange's ETH → USDT maximum is set aside by the accumulator: no later
    // payment can help it.
    kind: 'conversion_above_exchange_maximum',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT h.state AS subject, format('%s payment(s), %s USD held: %s', h.payment_count, h.held_usd, h.reason) AS detail, h.since
      FROM conversion_window_holds h WHERE h.state = 'above_exchange_maximum'`,
  },
  {
    // Below the exchange's minimum the window waits for more payments; if none come for this long,
    // the exchange's minimum may have moved past what the platform receives.
    kind: 'conversion_below_exchange_minimum',
    severity: 'warning',
    query: (rules, now) => sql.type(findingRow)`
      SELECT h.state AS subject, format('%s payment(s), %s ETH held since %s: %s', h.payment_count, h.held_eth, h.since, h.reason) AS detail, h.since
      FROM conversion_window_holds h WHERE h.state = 'below_exchange_minimum' AND h.since <= ${before(now, rules.holdAlertAfterMs)}`,
  },
  {
    // The chain connector found the node out of step with its ledger (a restarted chain, a node
    // behind, someone else using the key): behind or changed, it sends nothing until it clears.
    kind: 'chain_nonce_gap',
    severity: 'critical',
    query: () => sql.type(findingRow)`
      SELECT g.sender_address AS subject, format('%s (gap %s): %s', g.status, g.gap, g.reason) AS detail, g.since
      FROM chain_nonce_gaps g`,
  },
];

export function findingIdOf(kind: string, subject: string): string {
  return `${kind}:${subject}`;
}

/** Every finding now, in check order. Takes any connection, so a test can plant rows it rolls back. */
export async function findFindings(connection: CommonQueryMethods, rules: LivenessRules, now: Date, checks: readonly FindingCheck[] = findingChecks): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const check of checks) {
    for (const row of await connection.any(check.query(rules, now))) {
      findings.push({ findingId: findingIdOf(check.kind, row.subject), kind: check.kind, subject: row.subject, severity: check.severity, detail: row.detail, since: row.since });
    }
  }
  return findings;
}

// ---- waiting --------------------------------------------------------------------------------

export type WaitingState =
  | 'unroutable'
  | 'pending_conversion'
  | 'swapping'
  | 'needs_recovery'
  | 'instant_payout_unpaid'
  | 'below_threshold'
  | 'payout_due'
  | 'below_exchange_minimum'
  | 'above_exchange_maximum'
  | 'fee_floor_not_met'
  | 'quote_unavailable'
  | 'payout_in_flight'
  | 'failed_retrying';

export interface WaitingItem {
  readonly state: WaitingState;
  readonly subject: string;
  readonly reason: string;
  readonly amount: Decimal;
  readonly currency: string;
  readonly since: Date;
}

const waitingRow = z.object({ state: z.string(), subject: z.string(), reason: z.string(), amount: decimalColumn, currency: z.string(), since: z.date() });

const waitingStates = new Set<string>([
  'unroutable', 'pending_conversion', 'swapping', 'needs_recovery', 'instant_payout_unpaid', 'below_threshold', 'payout_due',
  'below_exchange_minimum', 'above_exchange_maximum', 'fee_floor_not_met', 'quote_unavailable', 'payout_in_flight', 'failed_retrying',
]);

function isWaitingState(state: string): state is WaitingState {
  return waitingStates.has(state);
}

/**
 * Everything not paid yet, oldest first within each kind: unroutable payments, the pending
 * conversion window (its oldest payment), live and to-be-recovered conversions, unpaid instant
 * payouts, and every unpaid credit group with the state settlement's window gives it.
 */
export async function findWaiting(connection: CommonQueryMethods): Promise<WaitingItem[]> {
  const rows = await connection.any(sql.type(waitingRow)`
    SELECT 'unroutable' AS state, l.payment_id AS subject, format('client %s is not registered; routed when it registers', l.client_id) AS reason,
           l.usd_net AS amount, 'usd' AS currency, l.received_at AS since
    FROM payment_ledger l WHERE l.state = 'unroutable'
    UNION ALL
    SELECT 'pending_conversion', p.oldest_payment_id,
           format('%s payment(s) worth %s USD wait for the global micro-batch; the oldest is %s', p.payments, p.usd_net, p.oldest_payment_id),
           p.usd_net, 'usd', p.oldest_received_at
    FROM (SELECT count(*) AS payments, sum(usd_net) AS usd_net, min(received_at) AS oldest_received_at,
                 (array_agg(payment_id ORDER BY received_at, payment_id))[1] AS oldest_payment_id
          FROM payment_ledger WHERE state = 'pending_conversion') p
    WHERE p.payments > 0
    UNION ALL
    SELECT CASE WHEN b.state = 'needs_recovery' THEN 'needs_recovery' ELSE 'swapping' END, b.batch_id,
           CASE WHEN b.state = 'needs_recovery'
                THEN format('failed after its pay-in (%s); an operator resolves it', coalesce(r.reported_reason, 'no reason'))
                ELSE format('conversion %s, exchange %s status %s, %s payment(s)', b.state, coalesce(b.exchange_id, 'not created yet'), coalesce(b.exchange_status, 'none'), b.member_count) END,
           b.total_usd, 'usd', coalesce(r.opened_at, b.created_at)
    FROM conversion_batches b LEFT JOIN conversion_recoveries r ON r.batch_id = b.batch_id AND r.resolution IS NULL
    WHERE b.state IN ('requested', 'swapping', 'needs_recovery')
    UNION ALL
    SELECT 'instant_payout_unpaid', l.payment_id,
           format('instant payout chain %s, latest batch %s', l.payout_batch_id, coalesce(latest.state, 'unknown')), l.eth_net, 'eth', l.received_at
    FROM payment_ledger l
    LEFT JOIN LATERAL (SELECT p.state FROM payout_batches p WHERE coalesce(p.origin_batch_id, p.batch_id) = l.payout_batch_id ORDER BY p.created_at DESC, p.batch_id DESC LIMIT 1) latest ON true
    WHERE l.state = 'instant_payout' AND l.paid_out_at IS NULL
    UNION ALL
    SELECT CASE WHEN g.window_state = 'in_flight' THEN 'payout_in_flight'
                WHEN g.window_state = 'held_for_retry' THEN 'failed_retrying'
                WHEN h.state IS NOT NULL THEN h.state
                WHEN c.strategy = 'instant' OR g.unpaid >= c.threshold_usd THEN 'payout_due'
                ELSE 'below_threshold' END,
           format('%s/%s/%s/%s', g.client_id, g.payout_currency, g.payout_network, g.wallet_address),
           CASE WHEN g.window_state = 'in_flight' THEN format('%s credit(s) in a live payout batch', g.credits)
                WHEN g.window_state = 'held_for_retry' THEN format('%s credit(s) of a failed payout wait for its retry', g.credits)
                WHEN h.state IS NOT NULL THEN format('held since %s: %s', h.held_since, h.reason)
                WHEN c.strategy = 'instant' OR g.unpaid >= c.threshold_usd THEN 'due; settlement forms the payout at its next evaluation'
                ELSE format('%s of the %s USD threshold', g.unpaid, c.threshold_usd) END,
           g.unpaid, 'usdt', g.oldest
    FROM (SELECT client_id, wallet_address, payout_currency, payout_network, window_state, sum(usdt_amount) AS unpaid, count(*) AS credits, min(credited_at) AS oldest
          FROM unpaid_credit_states GROUP BY client_id, wallet_address, payout_currency, payout_network, window_state) g
    JOIN clients c ON c.client_id = g.client_id
    LEFT JOIN payout_group_holds h ON g.window_state = 'free' AND (h.client_id, h.wallet_address, h.payout_currency, h.payout_network) = (g.client_id, g.wallet_address, g.payout_currency, g.payout_network)
    ORDER BY 1, 6, 2`);
  return rows.map((row) => {
    if (!isWaitingState(row.state)) throw new InvariantViolation('a waiting row has a known state', { state: row.state });
    return { state: row.state, subject: row.subject, reason: row.reason, amount: row.amount, currency: row.currency, since: row.since };
  });
}
