// The overview's reads of the database, each bounded and on an index (db/migrations/022): the
// accumulator's window as it decides it (describeWindow: pending rows and the threshold in force),
// conversions and payouts not final, today's accepted payments and the open liveness findings.
// Reads only, in one REPEATABLE READ snapshot so the figures of one overview agree with each other.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { decimalColumn } from '../../db/column-types.ts';
import { describeWindow, type WindowRules } from '../accumulator/micro-batch-evaluation.ts';
import type { ConversionInFlight, OpenAlert, PayoutInFlight, WindowFigures } from './overview.ts';
import type { Decimal } from '../../core/money.ts';

/** The most conversions, payouts and alerts one overview lists (oldest first); the lists have them all. */
export const overviewListMax = 50;

const conversionRow = z.object({ batch_id: z.string(), state: z.string(), exchange_status: z.string().nullable(), created_at: z.date(), total_usd: decimalColumn });
const payoutRow = z.object({
  batch_id: z.string(),
  client_id: z.string(),
  state: z.string(),
  exchange_status: z.string().nullable(),
  payin_hash: z.string().nullable(),
  created_at: z.date(),
  source_amount: decimalColumn,
  source_currency: z.string(),
});
const volumeRow = z.object({ payments: z.number().int(), usd: decimalColumn });
const alertRow = z.object({ finding_id: z.string(), kind: z.string(), severity: z.string(), first_seen_at: z.date(), subject: z.string(), detail: z.string() });

export interface OverviewDatabaseFigures {
  readonly window: WindowFigures;
  readonly conversions: readonly ConversionInFlight[];
  readonly payouts: readonly PayoutInFlight[];
  readonly volumeToday: { readonly payments: number; readonly usd: Decimal };
  readonly alerts: readonly OpenAlert[];
}

/** Midnight UTC of `now`'s day: "today" for the volume figure. */
export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export async function readOverviewFigures(pool: DatabasePool, rules: WindowRules, now: Date): Promise<OverviewDatabaseFigures> {
  return pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`);
    const window = await describeWindow(transaction, rules);
    const conversions = await transaction.any(sql.type(conversionRow)`
      SELECT batch_id, state, exchange_status, created_at, total_usd FROM conversion_batches
      WHERE state IN ('requested', 'swapping') ORDER BY created_at, batch_id LIMIT ${overviewListMax}`);
    const payouts = await transaction.any(sql.type(payoutRow)`
      SELECT batch_id, client_id, state, exchange_status, payin_hash, created_at, source_amount, source_currency FROM payout_batches
      WHERE state IN ('requested', 'swapping') ORDER BY created_at, batch_id LIMIT ${overviewListMax}`);
    // Accepted payments (the webhook's rows), whether or not their client is registered yet.
    const volume = await transaction.one(sql.type(volumeRow)`
      SELECT count(*)::int4 AS payments, coalesce(sum(usd_amount), 0) AS usd FROM webhook_payments
      WHERE accepted_at >= ${sql.timestamp(startOfUtcDay(now))}`);
    const alerts = await transaction.any(sql.type(alertRow)`
      SELECT finding_id, kind, severity, first_seen_at, subject, detail FROM liveness_findings
      WHERE cleared_at IS NULL ORDER BY first_seen_at, finding_id LIMIT ${overviewListMax}`);
    return {
      window: { pendingPayments: window.pendingPayments, pendingUsd: window.pendingUsd, oldestReceivedAt: window.oldestReceivedAt, thresholdUsd: window.thresholdUsd },
      conversions: conversions.map((row) => ({ batchId: row.batch_id, state: row.state, exchangeStatus: row.exchange_status, createdAt: row.created_at, totalUsd: row.total_usd })),
      payouts: payouts.map((row) => ({
        batchId: row.batch_id,
        clientId: row.client_id,
        state: row.state,
        exchangeStatus: row.exchange_status,
        payinHash: row.payin_hash,
        createdAt: row.created_at,
        sourceAmount: row.source_amount,
        sourceCurrency: row.source_currency,
      })),
      volumeToday: { payments: volume.payments, usd: volume.usd },
      alerts: alerts.map((row) => ({ findingId: row.finding_id, kind: row.kind, severity: row.severity, firstSeenAt: row.first_seen_at, subject: row.subject, detail: row.detail })),
    };
  });
}
