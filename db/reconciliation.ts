// The ledger's invariants (nothing lost, nothing doubled; docs/overview.md and docs/operations.md), checked over the whole database by SQL. Each
// query returns the rows that break one invariant; an empty result everywhere means the books
// balance. Used by `cli reconcile` (exit code non-zero on any violation), GET /api/reconciliation
// and the tests. Several invariants are also constraints (one live membership per payment and per
// credit); they are checked here again on purpose, from the other side, as a second path.
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
    // Against every payment that ever joined the batch: a failed batch's members went back to
    // pending, but its totals still describe what was sent to the exchange.
    invariant: 'conversion batch totals equal the sum of their members',
    query: sql.type(violationRow)`
      SELECT b.batch_id AS subject,
             format('batch says %s members / %s USD / %s ETH; its members are %s / %s / %s',
                    b.member_count, b.total_usd, b.total_eth, count(m.payment_id), coalesce(sum(m.usd_net), 0), coalesce(sum(m.eth_net), 0)) AS detail
      FROM conversion_batches b LEFT JOIN conversion_batch_members m ON m.batch_id = b.batch_id
      GROUP BY b.batch_id, b.member_count, b.total_usd, b.total_eth
      HAVING b.member_count <> count(m.payment_id)
          OR b.total_usd <> coalesce(sum(m.usd_net), 0)
          OR b.total_eth <> coalesce(sum(m.eth_net), 0)`,
  },
  {
    invariant: "a payment's conversion batch in the ledger is its one live membership",
    query: sql.type(violationRow)`
      SELECT coalesce(l.payment_id, m.payment_id) AS subject,
             format('ledger says batch %s, live membership says %s', coalesce(l.conversion_batch_id, 'none'), coalesce(m.batch_id, 'none')) AS detail
      FROM (SELECT payment_id, conversion_batch_id FROM payment_ledger WHERE conversion_batch_id IS NOT NULL) l
      FULL JOIN (SELECT payment_id, batch_id FROM conversion_batch_members WHERE released_at IS NULL) m ON m.payment_id = l.payment_id
      WHERE l.conversion_batch_id IS DISTINCT FROM m.batch_id`,
  },
  {
    invariant: 'a payment is in at most one live conversion batch',
    query: sql.type(violationRow)`
      SELECT payment_id AS subject, format('live in %s batches: %s', count(*), string_agg(batch_id, ', ' ORDER BY batch_id)) AS detail
      FROM conversion_batch_members WHERE released_at IS NULL
      GROUP BY payment_id HAVING count(*) > 1`,
  },
  {
    invariant: 'a failed conversion released all its members; a live or finished one none',
    query: sql.type(violationRow)`
      SELECT b.batch_id AS subject, format('%s batch with %s released and %s live members', b.state,
             count(*) FILTER (WHERE m.released_at IS NOT NULL), count(*) FILTER (WHERE m.released_at IS NULL)) AS detail
      FROM conversion_batches b JOIN conversion_batch_members m ON m.batch_id = b.batch_id
      GROUP BY b.batch_id, b.state
      HAVING (b.state = 'failed' AND count(*) FILTER (WHERE m.released_at IS NULL) > 0)
          OR (b.state <> 'failed' AND count(*) FILTER (WHERE m.released_at IS NOT NULL) > 0)`,
  },
  {
    // A conversion that failed after its pay-in holds its payments until an operator resolves it:
    // the payments and the batch say the same (needs_recovery, or written_off once resolved so).
    invariant: 'a payment held for recovery or written off is in a batch of the same state, and such a batch holds only those',
    query: sql.type(violationRow)`
      SELECT l.payment_id AS subject, format('%s payment in %s batch %s', l.state, b.state, b.batch_id) AS detail
      FROM payment_ledger l JOIN conversion_batches b ON b.batch_id = l.conversion_batch_id
      WHERE (l.state IN ('needs_recovery', 'written_off') OR b.state IN ('needs_recovery', 'written_off')) AND l.state <> b.state`,
  },
  {
    invariant: 'a conversion needs recovery exactly while its recovery is open, and a resolved one is where its resolution put it',
    query: sql.type(violationRow)`
      SELECT coalesce(b.batch_id, r.batch_id) AS subject,
             format('%s batch; recovery %s', coalesce(b.state, 'missing'), CASE WHEN r.batch_id IS NULL THEN 'none' ELSE coalesce(r.resolution, 'open') END) AS detail
      FROM conversion_batches b FULL JOIN conversion_recoveries r ON r.batch_id = b.batch_id
      WHERE (b.state = 'needs_recovery' AND (r.batch_id IS NULL OR r.resolution IS NOT NULL))
         OR (r.batch_id IS NOT NULL AND r.resolution IS NULL AND b.state IS DISTINCT FROM 'needs_recovery')
         OR (b.state = 'written_off' AND r.resolution IS DISTINCT FROM 'written_off')
         OR (r.resolution = 'written_off' AND b.state IS DISTINCT FROM 'written_off')
         OR (r.resolution = 'refund_received' AND b.state IS DISTINCT FROM 'failed')
         OR (r.resolution = 'recovered' AND (b.state IS DISTINCT FROM 'finished' OR b.usdt_received IS DISTINCT FROM r.usdt_recovered))`,
  },
  {
    invariant: 'the shares of a finished conversion sum to the USDT it received, one per member',
    query: sql.type(violationRow)`
      SELECT b.batch_id AS subject,
             format('%s batch received %s USDT for %s members; credits: %s totalling %s', b.state, coalesce(b.usdt_received::text, 'no'), b.member_count,
                    count(c.credit_id), coalesce(sum(c.usdt_amount), 0)) AS detail
      FROM conversion_batches b LEFT JOIN usdt_credits c ON c.conversion_batch_id = b.batch_id
      GROUP BY b.batch_id, b.state, b.usdt_received, b.member_count
      HAVING (b.state = 'finished' AND (b.usdt_received IS DISTINCT FROM coalesce(sum(c.usdt_amount), 0) OR count(c.credit_id) <> b.member_count))
          OR (b.state <> 'finished' AND count(c.credit_id) > 0)`,
  },
  {
    invariant: 'a credited payment is a converted member of the conversion it was credited from',
    query: sql.type(violationRow)`
      SELECT c.credit_id AS subject, format('payment %s is %s in batch %s, credited from %s', c.payment_id, l.state, coalesce(l.conversion_batch_id, 'none'), c.conversion_batch_id) AS detail
      FROM usdt_credits c JOIN payment_ledger l ON l.payment_id = c.payment_id
      WHERE l.state <> 'converted' OR l.conversion_batch_id IS DISTINCT FROM c.conversion_batch_id OR l.client_id <> c.client_id`,
  },
  {
    invariant: "a credit's payout batch is its one live payout membership, for its amount",
    query: sql.type(violationRow)`
      SELECT coalesce(c.credit_id, m.credit_id) AS subject,
             format('credit says batch %s, live membership says %s (%s vs %s USDT)', coalesce(c.payout_batch_id, 'none'), coalesce(m.payout_batch_id, 'none'),
                    c.usdt_amount, m.usdt_amount) AS detail
      FROM (SELECT credit_id, payout_batch_id, usdt_amount FROM usdt_credits WHERE payout_batch_id IS NOT NULL) c
      FULL JOIN (SELECT credit_id, payout_batch_id, usdt_amount FROM payout_batch_members WHERE released_at IS NULL) m ON m.credit_id = c.credit_id
      WHERE c.payout_batch_id IS DISTINCT FROM m.payout_batch_id OR c.usdt_amount IS DISTINCT FROM m.usdt_amount`,
  },
  {
    invariant: 'a credit is in at most one live payout batch',
    query: sql.type(violationRow)`
      SELECT credit_id AS subject, format('live in %s payout batches: %s', count(*), string_agg(payout_batch_id, ', ' ORDER BY payout_batch_id)) AS detail
      FROM payout_batch_members WHERE released_at IS NULL
      GROUP BY credit_id HAVING count(*) > 1`,
  },
  {
    invariant: 'a USDT payout batch pays exactly its members, and only a failed one released them',
    query: sql.type(violationRow)`
      SELECT p.batch_id AS subject,
             format('%s batch of %s USDT; members total %s (%s live, %s released)', p.state, p.source_amount, coalesce(sum(m.usdt_amount), 0),
                    count(*) FILTER (WHERE m.released_at IS NULL), count(*) FILTER (WHERE m.released_at IS NOT NULL)) AS detail
      FROM payout_batches p LEFT JOIN payout_batch_members m ON m.payout_batch_id = p.batch_id
      WHERE p.source_currency = 'usdt'
      GROUP BY p.batch_id, p.state, p.source_amount
      HAVING p.source_amount <> coalesce(sum(m.usdt_amount), 0)
          OR (p.state = 'failed' AND count(*) FILTER (WHERE m.released_at IS NULL) > 0)
          OR (p.state <> 'failed' AND count(*) FILTER (WHERE m.released_at IS NOT NULL) > 0)`,
  },
  {
    invariant: 'a credit is paid out only by a finished payout batch with a payout hash, and every credit of such a batch is',
    query: sql.type(violationRow)`
      SELECT c.credit_id AS subject,
             format('paid_out_at %s, payout batch %s is %s with payout hash %s', coalesce(c.paid_out_at::text, 'none'), c.payout_batch_id, p.state, coalesce(p.payout_hash, 'none')) AS detail
      FROM usdt_credits c JOIN payout_batches p ON p.batch_id = c.payout_batch_id
      WHERE (c.paid_out_at IS NOT NULL) <> (p.state = 'finished' AND p.payout_hash IS NOT NULL)`,
  },
  {
    invariant: 'a payment is paid out exactly when its credit or its instant payout finished',
    query: sql.type(violationRow)`
      SELECT l.payment_id AS subject,
             format('%s payment with paid_out_at %s; credit paid %s; finished batches of its instant chain %s', l.state, coalesce(l.paid_out_at::text, 'none'),
                    coalesce(c.paid_out_at::text, 'no'), coalesce(chain.finished, 0)) AS detail
      FROM payment_ledger l
      LEFT JOIN usdt_credits c ON c.payment_id = l.payment_id
      LEFT JOIN LATERAL (
        SELECT count(*) AS finished FROM payout_batches p
        WHERE l.state = 'instant_payout' AND coalesce(p.origin_batch_id, p.batch_id) = l.payout_batch_id AND p.state = 'finished' AND p.payout_hash IS NOT NULL
      ) chain ON true
      WHERE (l.state = 'converted' AND (l.paid_out_at IS NOT NULL) <> (c.paid_out_at IS NOT NULL))
         OR (l.state = 'instant_payout' AND (l.paid_out_at IS NOT NULL) <> (coalesce(chain.finished, 0) > 0))
         OR (l.state NOT IN ('converted', 'instant_payout') AND l.paid_out_at IS NOT NULL)`,
  },
  {
    invariant: 'a payout and its retries pay out at most once',
    query: sql.type(violationRow)`
      SELECT coalesce(origin_batch_id, batch_id) AS subject, format('%s finished batches: %s', count(*), string_agg(batch_id, ', ' ORDER BY batch_id)) AS detail
      FROM payout_batches WHERE state = 'finished'
      GROUP BY coalesce(origin_batch_id, batch_id) HAVING count(*) > 1`,
  },
  {
    invariant: 'per client, USDT credited = paid out + pending',
    query: sql.type(violationRow)`
      SELECT credited.client_id AS subject,
             format('credited %s; paid out by finished batches %s; pending %s', credited.total, coalesce(paid.total, 0), credited.pending) AS detail
      FROM (SELECT client_id, sum(usdt_amount) AS total, coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NULL), 0) AS pending
            FROM usdt_credits GROUP BY client_id) credited
      LEFT JOIN (SELECT client_id, sum(source_amount) AS total FROM payout_batches WHERE state = 'finished' AND source_currency = 'usdt' GROUP BY client_id) paid
        ON paid.client_id = credited.client_id
      WHERE credited.total <> coalesce(paid.total, 0) + credited.pending`,
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

const acceptedNotInLedgerRow = z.object({ payment_id: z.string(), accepted_at: z.date() });

/**
 * Payments the webhook accepted that are not in the ledger yet. Not a violation by itself — the
 * router may simply be behind or stopped — but an operator should see it; a mismatch of amounts
 * between the two is a violation (checked above when the row exists).
 */
export async function findUnroutedPayments(connection: CommonQueryMethods): Promise<readonly z.infer<typeof acceptedNotInLedgerRow>[]> {
  return connection.any(sql.type(acceptedNotInLedgerRow)`
    SELECT w.payment_id, w.accepted_at
    FROM webhook_payments w LEFT JOIN payment_ledger l ON l.payment_id = w.payment_id
    WHERE l.payment_id IS NULL
    ORDER BY w.accepted_at`);
}

export function formatViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return `reconciliation: ${checks.length} invariants hold`;
  return violations.map((violation) => `VIOLATION ${violation.invariant}: ${violation.subject}: ${violation.detail}`).join('\n');
}
