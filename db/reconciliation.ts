// The ledger's invariants (../shared/MISSION.md), checked over the whole database by SQL. Each
// query returns the rows that break one invariant; an empty result everywhere means the books
// balance. Used by `cli reconcile` (exit code non-zero on any violation) and by the crash tests.
import { sql, type CommonQueryMethods, type QuerySqlToken } from 'slonik';
import { z } from 'zod';

export interface Violation {
  invariant: string;
  subject: string;
  detail: string;
}

const violationRow = z.object({ subject: z.string(), detail: z.string() });

interface InvariantCheck {
  invariant: string;
  query: QuerySqlToken<typeof violationRow>;
}

// Checks are plain SQL so an operator can run the same query by hand from this file.
const checks: readonly InvariantCheck[] = [
  {
    invariant: 'conversion batch totals equal the sum of their members',
    query: sql.type(violationRow)`
      SELECT b.batch_id AS subject,
             format('batch says %s members / %s USD / %s ETH; ledger has %s / %s / %s',
                    b.member_count, b.total_usd, b.total_eth, count(l.payment_id), coalesce(sum(l.usd_net), 0), coalesce(sum(l.eth_net), 0)) AS detail
      FROM conversion_batches b LEFT JOIN payment_ledger l ON l.conversion_batch_id = b.batch_id
      GROUP BY b.batch_id, b.member_count, b.total_usd, b.total_eth
      HAVING b.member_count <> count(l.payment_id)
          OR b.total_usd <> coalesce(sum(l.usd_net), 0)
          OR b.total_eth <> coalesce(sum(l.eth_net), 0)`,
  },
  {
    invariant: 'a payment in a conversion batch refers to an existing batch',
    query: sql.type(violationRow)`
      SELECT l.payment_id AS subject, format('conversion_batch_id %s does not exist', l.conversion_batch_id) AS detail
      FROM payment_ledger l LEFT JOIN conversion_batches b ON b.batch_id = l.conversion_batch_id
      WHERE l.conversion_batch_id IS NOT NULL AND b.batch_id IS NULL`,
  },
  {
    invariant: 'an instant payment has exactly its own payout batch, for its net ETH',
    query: sql.type(violationRow)`
      SELECT l.payment_id AS subject,
             format('payout batch %s: %s', l.payout_batch_id,
                    CASE WHEN p.batch_id IS NULL THEN 'missing' ELSE format('source %s %s, ledger eth_net %s', p.source_amount, p.source_currency, l.eth_net) END) AS detail
      FROM payment_ledger l LEFT JOIN payout_batches p ON p.batch_id = l.payout_batch_id
      WHERE l.state = 'instant_payout'
        AND (p.batch_id IS NULL OR p.source_currency <> 'eth' OR p.source_amount <> l.eth_net OR p.reason <> 'instant')`,
  },
  {
    invariant: 'a payout batch of reason instant belongs to exactly one payment',
    query: sql.type(violationRow)`
      SELECT p.batch_id AS subject, format('%s ledger rows point at it', count(l.payment_id)) AS detail
      FROM payout_batches p LEFT JOIN payment_ledger l ON l.payout_batch_id = p.batch_id
      WHERE p.reason = 'instant'
      GROUP BY p.batch_id HAVING count(l.payment_id) <> 1`,
  },
  {
    invariant: 'a routed payment carries the amounts the webhook accepted',
    query: sql.type(violationRow)`
      SELECT w.payment_id AS subject, format('webhook %s USD / %s ETH, ledger %s / %s', w.usd_amount, w.eth_amount, l.usd_gross, l.eth_gross) AS detail
      FROM webhook_payments w JOIN payment_ledger l ON l.payment_id = w.payment_id
      WHERE l.usd_gross <> w.usd_amount OR l.eth_gross <> w.eth_amount`,
  },
  {
    invariant: 'the platform fee is taken exactly once from each side of a payment',
    query: sql.type(violationRow)`
      SELECT payment_id AS subject, format('usd %s - %s <> %s or eth %s - %s <> %s', usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net) AS detail
      FROM payment_ledger
      WHERE usd_net <> usd_gross - platform_fee_usd OR eth_net <> eth_gross - platform_fee_eth`,
  },
];

/** Takes any connection, so a test can plant a violation inside a transaction it rolls back. */
export async function findViolations(connection: CommonQueryMethods): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const check of checks) {
    const rows = await connection.any(check.query);
    for (const row of rows) violations.push({ invariant: check.invariant, subject: row.subject, detail: row.detail });
  }
  return violations;
}

const acceptedNotInLedgerRow = z.object({ payment_id: z.string(), produced_at: z.date() });

/**
 * Payments the webhook accepted that are not in the ledger yet. Not a violation by itself — the
 * router may simply be behind or stopped — but an operator should see it; a mismatch of amounts
 * between the two is a violation (checked above when the row exists).
 */
export async function findUnroutedPayments(connection: CommonQueryMethods): Promise<readonly z.infer<typeof acceptedNotInLedgerRow>[]> {
  return connection.any(sql.type(acceptedNotInLedgerRow)`
    SELECT w.payment_id, w.produced_at
    FROM webhook_payments w LEFT JOIN payment_ledger l ON l.payment_id = w.payment_id
    WHERE l.payment_id IS NULL
    ORDER BY w.produced_at`);
}

export function formatViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return `reconciliation: ${checks.length} invariants hold`;
  return violations.map((violation) => `VIOLATION ${violation.invariant}: ${violation.subject}: ${violation.detail}`).join('\n');
}
