// The SQL GET /api/clients/:clientId/balance runs (loadClientBalance, in the admin's settlement
// store), copied here with the client id as $1 so the benchmark can EXPLAIN each one; the store
// builds them with slonik fragments and exports none separately. Keep in step with the store: the
// HTTP figures always measure the real queries, these only explain where their time goes.
export interface BalanceQuery {
  readonly name: string;
  readonly text: string;
}

export const balanceQueries: readonly BalanceQuery[] = [
  {
    name: 'client',
    text: `SELECT client_id, strategy, threshold_usd, wallet_address, payout_currency, payout_network, pending_wallet_address, pending_wallet_effective_at
      FROM clients WHERE client_id = $1`,
  },
  {
    name: 'free groups (unpaid_credit_states)',
    text: `SELECT wallet_address, payout_currency, payout_network, sum(usdt_amount) AS unpaid_usdt, count(*)::int AS credits, min(credited_at) AS oldest_credited_at
      FROM unpaid_credit_states WHERE client_id = $1 AND window_state = 'free'
      GROUP BY wallet_address, payout_currency, payout_network
      ORDER BY min(credited_at), wallet_address, payout_currency, payout_network`,
  },
  {
    name: 'holds (payout_group_holds)',
    text: `SELECT wallet_address, payout_currency, payout_network, state, reason, unpaid_usdt, minimum_usdt, estimated_fee_usdt, evaluated_at
      FROM payout_group_holds WHERE client_id = $1`,
  },
  {
    name: 'open payout batches',
    text: `SELECT p.batch_id, p.wallet_address, p.payout_currency, p.payout_network, p.state, p.reason, p.source_currency, p.source_amount,
             (SELECT count(*)::int FROM payout_batch_members m WHERE m.payout_batch_id = p.batch_id) AS credits,
             p.exchange_id, p.exchange_status, p.failure_reason, p.attempts, p.next_retry_at, p.retries_exhausted_at, p.created_at
      FROM payout_batches p
      WHERE p.client_id = $1
        AND (p.state IN ('requested', 'swapping')
             OR (p.state = 'failed' AND NOT EXISTS (SELECT 1 FROM payout_batches r WHERE r.retry_of = p.batch_id)
                 AND (p.next_retry_at IS NOT NULL OR p.retries_exhausted_at IS NOT NULL)))
      ORDER BY p.created_at, p.batch_id`,
  },
  {
    name: 'unconverted (payment_ledger)',
    text: `SELECT count(*)::int AS payments, coalesce(sum(l.usd_net), 0) AS usd_net,
             (count(*) FILTER (WHERE l.state = 'swapping'))::int AS swapping,
             (count(*) FILTER (WHERE l.state = 'pending_conversion'
                AND EXISTS (SELECT 1 FROM conversion_batch_members m WHERE m.payment_id = l.payment_id AND m.released_at IS NOT NULL)))::int AS returned,
             min(l.received_at) AS oldest_received_at
      FROM payment_ledger l WHERE l.client_id = $1 AND l.state IN ('pending_conversion', 'swapping')`,
  },
  {
    name: 'needs recovery (payment_ledger)',
    text: `SELECT l.conversion_batch_id AS batch_id, count(*)::int AS payments, sum(l.usd_net) AS usd_net, coalesce(min(b.failure_reason), 'no reason') AS reason
      FROM payment_ledger l JOIN conversion_batches b ON b.batch_id = l.conversion_batch_id
      WHERE l.client_id = $1 AND l.state = 'needs_recovery'
      GROUP BY l.conversion_batch_id ORDER BY min(b.failed_at), l.conversion_batch_id`,
  },
  {
    name: 'totals (usdt_credits)',
    text: `SELECT coalesce(sum(usdt_amount), 0) AS credited_usdt,
             coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NOT NULL), 0) AS paid_out_usdt,
             coalesce(sum(usdt_amount) FILTER (WHERE paid_out_at IS NULL), 0) AS unpaid_usdt
      FROM usdt_credits WHERE client_id = $1`,
  },
];
