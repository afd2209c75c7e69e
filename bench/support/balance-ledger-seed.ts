// A ledger the size of a busy production year, written directly with set-based SQL (one statement
// per table, over generate_series) because a million rows through the pipeline would take hours
// here. Rows satisfy every constraint of db/migrations/*.sql and are shaped as the pipeline's own
// writers leave them; the conversion_batch_members of live memberships come from the ledger's
// trigger (payment_ledger_conversion_batch_member), as in production.
//
// Every client has the same life, scaled to its number of payments: its payments are numbered
// 0..n-1 oldest first and each gets a stage 0..99 (seq × 100 / n):
//   0–59   converted; credit paid out by one of three finished payout batches (stages 0–19, 20–39, 40–59)
//   60–61  converted; credit in a live (swapping) payout batch for every tenth client, free otherwise
//   62–91  converted; credit free — except 80–84 of every twentieth client (c % 20 = 1): their payout
//          batch failed and waits for its retry (members released, credits held_for_retry)
//   92     converted, or needs_recovery for every tenth conversion batch of the stage
//   93–96  swapping in a conversion batch
//   97     pending_conversion after a failed conversion released it (a released member row)
//   98–99  pending_conversion
// Conversion batches group 100 consecutive payments of one stage (so one batch holds payments of
// many clients, as the global micro-batch does). Every hundredth client (c % 100 = 7) has a payout
// hold. Heap order is arrival order: a client's rows are spread over the table, not clustered.
import type pg from 'pg';
import { xmrWalletA } from '../../test/support/settlement-fixtures.ts';

export interface LedgerSeedShape {
  /** Clients with `paymentsPerClient` payments each. */
  readonly clients: number;
  readonly paymentsPerClient: number;
  /** One more client with this many payments: the largest balance the API must answer. */
  readonly largestClientPayments: number;
}

/** Client ids fit clients.client_id's check (digits only); the largest client is the last one. */
export const clientIdOf = (index: number): string => String(900_000_000_000 + index);

export function largestClientIndex(shape: LedgerSeedShape): number {
  return shape.clients;
}

export interface SeededCounts {
  readonly clients: number;
  readonly paymentLedger: number;
  readonly usdtCredits: number;
  readonly conversionBatchMembers: number;
  readonly payoutBatches: number;
  readonly payoutBatchMembers: number;
}

// One row per payment with everything the tables below derive from it. i orders payments by
// arrival; c is the client index, seq the payment's number within its client.
function stagingSql(shape: LedgerSeedShape): string {
  const regular = shape.clients * shape.paymentsPerClient;
  return `
    CREATE TEMP TABLE bench_payments AS
    WITH numbered AS (
      SELECT i, i % ${shape.clients} AS c, i / ${shape.clients} AS seq, ${shape.paymentsPerClient} AS n
      FROM generate_series(0, ${regular - 1}) AS i
      UNION ALL
      SELECT i, ${shape.clients} AS c, i - ${regular} AS seq, ${shape.largestClientPayments} AS n
      FROM generate_series(${regular}, ${regular + shape.largestClientPayments - 1}) AS i
    ), staged AS (
      SELECT i, c, seq, (seq * 100 / n)::int AS stage,
             now() - make_interval(secs => (n - seq) * (2592000.0 / n) + (c % 3600)) AS received_at,
             round(20 + (i % 997) * 0.37, 8) AS usd_gross
      FROM numbered
    ), priced AS (
      SELECT *, round(usd_gross * 3 / 100, 8) AS fee_usd, round(usd_gross / 3000, 18) AS eth_gross FROM staged
    )
    SELECT i, c, seq, stage, received_at,
           (${900_000_000_000} + c)::text AS client_id,
           (5000000000 + i)::text AS payment_id,
           usd_gross, fee_usd, usd_gross - fee_usd AS usd_net,
           eth_gross, round(eth_gross * 3 / 100, 18) AS fee_eth, eth_gross - round(eth_gross * 3 / 100, 18) AS eth_net,
           CASE WHEN stage = 92 AND (i / 100) % 10 = 0 THEN 'needs_recovery'
                WHEN stage <= 92 THEN 'converted'
                WHEN stage <= 96 THEN 'swapping'
                ELSE 'pending_conversion' END AS state,
           CASE WHEN stage <= 96 THEN 'cb-' || stage || '-' || (i / 100) END AS conversion_batch_id,
           CASE WHEN stage = 97 THEN 'cbf-' || (i / 100) END AS released_from_batch_id,
           CASE WHEN stage < 60 THEN 'pb-' || c || '-' || (stage / 20)
                WHEN stage < 62 AND c % 10 = 0 THEN 'pb-' || c || '-live' END AS payout_batch_id,
           CASE WHEN stage BETWEEN 80 AND 84 AND c % 20 = 1 THEN 'pb-' || c || '-failed' END AS failed_payout_batch_id
    FROM priced`;
}

const conversionBatchesSql = `
  INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, exchange_id,
                                  usdt_received, failure_reason, created_at, finished_at, eth_sent, failed_at)
  SELECT batch_id, state, 'threshold', count(*), sum(usd_net), sum(eth_net), 1000, 'ex-' || batch_id,
         CASE WHEN state = 'finished' THEN round(sum(usd_net), 6) END,
         CASE WHEN state IN ('failed', 'needs_recovery') THEN 'exchange refunded nothing' END,
         max(received_at), CASE WHEN state = 'finished' THEN max(received_at) + interval '30 minutes' END,
         CASE WHEN state <> 'failed' THEN sum(eth_net) END,
         CASE WHEN state IN ('failed', 'needs_recovery') THEN max(received_at) + interval '30 minutes' END
  FROM (
    SELECT conversion_batch_id AS batch_id,
           CASE WHEN state = 'needs_recovery' THEN 'needs_recovery' WHEN state = 'swapping' THEN 'swapping' ELSE 'finished' END AS state,
           usd_net, eth_net, received_at
    FROM bench_payments WHERE conversion_batch_id IS NOT NULL
    UNION ALL
    SELECT released_from_batch_id, 'failed', usd_net, eth_net, received_at FROM bench_payments WHERE released_from_batch_id IS NOT NULL
  ) AS member
  GROUP BY batch_id, state`;

const payoutBatchesSql = `
  INSERT INTO payout_batches (batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency,
                              source_amount, usd_value, exchange_id, payout_hash, payout_amount, failure_reason, attempts,
                              created_at, completed_at, failed_at, next_retry_at)
  SELECT batch_id, client_id, 'threshold', state, '${xmrWalletA}', 'xmr', 'xmr', 'usdttrc20',
         round(sum(usd_net), 6), sum(usd_net), 'ex-' || batch_id,
         CASE WHEN state = 'finished' THEN 'hash-' || batch_id END,
         CASE WHEN state = 'finished' THEN round(sum(usd_net) / 150, 12) END,
         CASE WHEN state = 'failed' THEN 'exchange expired' END, 0,
         max(received_at) + interval '2 hours',
         CASE WHEN state = 'finished' THEN max(received_at) + interval '3 hours' END,
         CASE WHEN state = 'failed' THEN max(received_at) + interval '3 hours' END,
         CASE WHEN state = 'failed' THEN now() + interval '1 hour' END
  FROM (
    SELECT payout_batch_id AS batch_id, client_id, CASE WHEN stage < 60 THEN 'finished' ELSE 'swapping' END AS state, usd_net, received_at
    FROM bench_payments WHERE payout_batch_id IS NOT NULL
    UNION ALL
    SELECT failed_payout_batch_id, client_id, 'failed', usd_net, received_at FROM bench_payments WHERE failed_payout_batch_id IS NOT NULL
  ) AS member
  GROUP BY batch_id, client_id, state`;

// updated_at is the row's own time, so the trigger's member rows join when the payment did.
const paymentLedgerSql = `
  INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent, usd_gross, platform_fee_usd, usd_net,
                              eth_gross, platform_fee_eth, eth_net, conversion_batch_id, paid_at, received_at, routed_at, updated_at, paid_out_at)
  SELECT payment_id, client_id, '42', '7', state, 3, usd_gross, fee_usd, usd_net, eth_gross, fee_eth, eth_net, conversion_batch_id,
         received_at, received_at, received_at, received_at + interval '1 minute',
         CASE WHEN stage < 60 THEN received_at + interval '3 hours' END
  FROM bench_payments ORDER BY i`;

const releasedMembersSql = `
  INSERT INTO conversion_batch_members (batch_id, payment_id, usd_net, eth_net, joined_at, released_at, release_reason)
  SELECT released_from_batch_id, payment_id, usd_net, eth_net, received_at + interval '1 minute', received_at + interval '30 minutes', 'conversion failed'
  FROM bench_payments WHERE released_from_batch_id IS NOT NULL ORDER BY i`;

const usdtCreditsSql = `
  INSERT INTO usdt_credits (credit_id, client_id, payment_id, conversion_batch_id, usdt_amount, exact_share, rounding_applied,
                            wallet_address, payout_currency, payout_network, payout_batch_id, paid_out_at, credited_at)
  SELECT 'cr-' || payment_id, client_id, payment_id, conversion_batch_id, round(usd_net, 6), (round(usd_net, 6) * 1000000)::bigint || '/1', 0,
         '${xmrWalletA}', 'xmr', 'xmr', payout_batch_id,
         CASE WHEN stage < 60 THEN received_at + interval '3 hours' END, received_at + interval '30 minutes'
  FROM bench_payments WHERE state = 'converted' ORDER BY i`;

const payoutBatchMembersSql = `
  INSERT INTO payout_batch_members (payout_batch_id, credit_id, usdt_amount, joined_at, released_at, release_reason)
  SELECT coalesce(payout_batch_id, failed_payout_batch_id), 'cr-' || payment_id, round(usd_net, 6), received_at + interval '2 hours',
         CASE WHEN failed_payout_batch_id IS NOT NULL THEN received_at + interval '3 hours' END,
         CASE WHEN failed_payout_batch_id IS NOT NULL THEN 'payout failed' END
  FROM bench_payments WHERE payout_batch_id IS NOT NULL OR failed_payout_batch_id IS NOT NULL ORDER BY i`;

function clientsSql(shape: LedgerSeedShape): string {
  return `
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    SELECT (${900_000_000_000} + c)::text, 1, 'threshold', 100000, '${xmrWalletA}', 'xmr', 'xmr'
    FROM generate_series(0, ${shape.clients}) AS c`;
}

const holdsSql = `
  INSERT INTO payout_group_holds (client_id, wallet_address, payout_currency, payout_network, state, reason, unpaid_usdt, minimum_usdt, evaluated_at)
  SELECT client_id, '${xmrWalletA}', 'xmr', 'xmr', 'below_exchange_minimum', 'below the exchange minimum for usdttrc20 → xmr',
         round(sum(usd_net), 6), 5000, now()
  FROM bench_payments WHERE c % 100 = 7 AND state = 'converted' AND stage >= 60 AND payout_batch_id IS NULL AND failed_payout_batch_id IS NULL
  GROUP BY client_id`;

/** Seeds the ledger on an empty database; `progress` is told each step and its seconds. */
export async function seedBalanceLedger(client: pg.Client, shape: LedgerSeedShape, progress: (step: string, seconds: number) => void): Promise<SeededCounts> {
  const steps: [string, string][] = [
    ['staging', stagingSql(shape)],
    ['clients', clientsSql(shape)],
    ['conversion_batches', conversionBatchesSql],
    ['payout_batches', payoutBatchesSql],
    ['payment_ledger (+ members by trigger)', paymentLedgerSql],
    ['released conversion members', releasedMembersSql],
    ['usdt_credits', usdtCreditsSql],
    ['payout_batch_members', payoutBatchMembersSql],
    ['payout_group_holds', holdsSql],
    ['drop staging', 'DROP TABLE bench_payments'],
  ];
  for (const [name, text] of steps) {
    const started = performance.now();
    await client.query(text);
    progress(name, (performance.now() - started) / 1_000);
  }
  // VACUUM as autovacuum would have done on a table this old: sets the visibility map, so an
  // index-only scan is as cheap here as in production. ANALYZE gives the planner real statistics.
  const started = performance.now();
  await client.query('VACUUM (ANALYZE)');
  progress('VACUUM (ANALYZE)', (performance.now() - started) / 1_000);
  const counts = await client.query<{ name: string; rows: string }>(`
    SELECT 'clients' AS name, count(*)::text AS rows FROM clients
    UNION ALL SELECT 'payment_ledger', count(*)::text FROM payment_ledger
    UNION ALL SELECT 'usdt_credits', count(*)::text FROM usdt_credits
    UNION ALL SELECT 'conversion_batch_members', count(*)::text FROM conversion_batch_members
    UNION ALL SELECT 'payout_batches', count(*)::text FROM payout_batches
    UNION ALL SELECT 'payout_batch_members', count(*)::text FROM payout_batch_members`);
  const countOf = (name: string): number => Number(counts.rows.find((row) => row.name === name)?.rows ?? Number.NaN);
  return {
    clients: countOf('clients'),
    paymentLedger: countOf('payment_ledger'),
    usdtCredits: countOf('usdt_credits'),
    conversionBatchMembers: countOf('conversion_batch_members'),
    payoutBatches: countOf('payout_batches'),
    payoutBatchMembers: countOf('payout_batch_members'),
  };
}
