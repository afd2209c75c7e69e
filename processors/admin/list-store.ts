// The reads behind the admin's list endpoints. Every list is keyset-paginated (api-pagination.ts):
// it fetches `limit + 1` rows strictly after the cursor's key in the list's order, so pages stay
// stable while rows are inserted. Times in a key are PostgreSQL's own text with microseconds
// (`sort_at`), never a JS Date, which would drop them. Reads only.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { decimalColumn } from '../../db/column-types.ts';
import type { SortKey } from './api-pagination.ts';
import { conversionBatchStates } from './api-schemas.ts';

const decimal = decimalColumn;
export const sortAt = (column: string) => sql.fragment`to_char(${sql.identifier(column.split('.'))} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Rows after the cursor's (time, id) in a newest-first keyset: strictly older, ties broken by id. */
export const olderThan = (timeColumn: string, idColumn: string, after: SortKey) =>
  sql.fragment`(${sql.identifier(timeColumn.split('.'))}, ${sql.identifier(idColumn.split('.'))}) < (${after[0] ?? ''}::timestamptz, ${after[1] ?? ''})`;

// ---- clients ----------------------------------------------------------------------------------

const clientListRow = z.object({
  client_id: z.string(),
  strategy: z.enum(['instant', 'threshold']),
  threshold_usd: decimal.nullable(),
  payout_currency: z.string(),
  payout_network: z.string(),
  created_at: z.date(),
  unpaid_usdt: decimal,
  unconverted_usd: decimal,
  unconverted_payments: z.number().int(),
  needs_recovery: z.number().int(),
  hold_reason: z.string().nullable(),
  in_flight: z.number().int(),
  failed: z.number().int(),
  last_batch_id: z.string().nullable(),
  last_state: z.enum(['requested', 'swapping', 'finished', 'failed']).nullable(),
  last_created_at: z.date().nullable(),
  last_completed_at: z.date().nullable(),
  last_payout_hash: z.string().nullable(),
});
export type ClientListRow = z.infer<typeof clientListRow>;

export interface ClientListFilter {
  readonly prefix?: string;
  readonly strategy?: 'instant' | 'threshold';
  readonly after: SortKey | null;
  readonly limit: number;
}

/** Clients by id, with what the list shows of their money (the per-group detail is GET …/balance). */
export async function listClients(connection: CommonQueryMethods, filter: ClientListFilter): Promise<readonly ClientListRow[]> {
  const conditions = [sql.fragment`TRUE`];
  if (filter.prefix !== undefined && filter.prefix !== '') conditions.push(sql.fragment`starts_with(c.client_id, ${filter.prefix})`);
  if (filter.strategy !== undefined) conditions.push(sql.fragment`c.strategy = ${filter.strategy}`);
  if (filter.after !== null) conditions.push(sql.fragment`c.client_id > ${filter.after[0] ?? ''}`);
  return connection.any(sql.type(clientListRow)`
    SELECT c.client_id, c.strategy, c.threshold_usd, c.payout_currency, c.payout_network, c.created_at,
           coalesce((SELECT sum(u.usdt_amount) FROM usdt_credits u WHERE u.client_id = c.client_id AND u.paid_out_at IS NULL), 0) AS unpaid_usdt,
           coalesce(w.usd_net, 0) AS unconverted_usd, coalesce(w.payments, 0) AS unconverted_payments, coalesce(w.needs_recovery, 0) AS needs_recovery,
           (SELECT h.reason FROM payout_group_holds h WHERE h.client_id = c.client_id ORDER BY h.evaluated_at DESC LIMIT 1) AS hold_reason,
           (SELECT count(*)::int FROM payout_batches p WHERE p.client_id = c.client_id AND p.state IN ('requested', 'swapping')) AS in_flight,
           (SELECT count(*)::int FROM payout_batches_awaiting_retry p WHERE p.client_id = c.client_id) AS failed,
           lp.batch_id AS last_batch_id, lp.state AS last_state, lp.created_at AS last_created_at,
           lp.completed_at AS last_completed_at, lp.payout_hash AS last_payout_hash
    FROM clients c
    LEFT JOIN LATERAL (
      SELECT sum(l.usd_net) FILTER (WHERE l.state IN ('pending_conversion', 'swapping')) AS usd_net,
             (count(*) FILTER (WHERE l.state IN ('pending_conversion', 'swapping')))::int AS payments,
             (count(*) FILTER (WHERE l.state = 'needs_recovery'))::int AS needs_recovery
      FROM payment_ledger l WHERE l.client_id = c.client_id AND l.state IN ('pending_conversion', 'swapping', 'needs_recovery')) w ON TRUE
    LEFT JOIN LATERAL (
      SELECT p.batch_id, p.state, p.created_at, p.completed_at, p.payout_hash FROM payout_batches p
      WHERE p.client_id = c.client_id ORDER BY p.created_at DESC, p.batch_id DESC LIMIT 1) lp ON TRUE
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY c.client_id
    LIMIT ${filter.limit + 1}`);
}

// ---- payout and conversion batches ------------------------------------------------------------

export interface TimeRangeFilter {
  readonly from?: Date;
  readonly to?: Date;
}

const payoutBatchListRow = z.object({
  sort_at: z.string(),
  batch_id: z.string(),
  client_id: z.string(),
  reason: z.string(),
  state: z.enum(['requested', 'swapping', 'finished', 'failed']),
  payout_currency: z.string(),
  payout_network: z.string(),
  source_currency: z.string(),
  source_amount: decimal,
  usd_value: decimal,
  payout_amount: decimal.nullable(),
  payout_hash: z.string().nullable(),
  failure_reason: z.string().nullable(),
  attempts: z.number().int(),
  retry_of: z.string().nullable(),
  created_at: z.date(),
  completed_at: z.date().nullable(),
});
export type PayoutBatchListRow = z.infer<typeof payoutBatchListRow>;

function timeConditions(column: string, filter: TimeRangeFilter) {
  const conditions = [];
  if (filter.from !== undefined) conditions.push(sql.fragment`${sql.identifier(column.split('.'))} >= ${sql.timestamp(filter.from)}`);
  if (filter.to !== undefined) conditions.push(sql.fragment`${sql.identifier(column.split('.'))} < ${sql.timestamp(filter.to)}`);
  return conditions;
}

/** Newest first by (created_at, batch_id). */
export async function listPayoutBatches(
  connection: CommonQueryMethods,
  filter: TimeRangeFilter & { readonly state?: string; readonly clientId?: string; readonly after: SortKey | null; readonly limit: number },
): Promise<readonly PayoutBatchListRow[]> {
  const conditions = [sql.fragment`TRUE`, ...timeConditions('p.created_at', filter)];
  if (filter.state !== undefined) conditions.push(sql.fragment`p.state = ${filter.state}`);
  if (filter.clientId !== undefined) conditions.push(sql.fragment`p.client_id = ${filter.clientId}`);
  if (filter.after !== null) conditions.push(olderThan('p.created_at', 'p.batch_id', filter.after));
  return connection.any(sql.type(payoutBatchListRow)`
    SELECT ${sortAt('p.created_at')} AS sort_at, p.batch_id, p.client_id, p.reason, p.state, p.payout_currency, p.payout_network,
           p.source_currency, p.source_amount, p.usd_value, p.payout_amount, p.payout_hash, p.failure_reason, p.attempts, p.retry_of,
           p.created_at, p.completed_at
    FROM payout_batches p
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY p.created_at DESC, p.batch_id DESC
    LIMIT ${filter.limit + 1}`);
}

const conversionBatchListRow = z.object({
  sort_at: z.string(),
  batch_id: z.string(),
  state: z.enum(conversionBatchStates),
  trigger: z.string(),
  member_count: z.number().int(),
  total_usd: decimal,
  total_eth: decimal,
  usdt_received: decimal.nullable(),
  exchange_id: z.string().nullable(),
  exchange_status: z.string().nullable(),
  failure_reason: z.string().nullable(),
  created_at: z.date(),
  finished_at: z.date().nullable(),
  failed_at: z.date().nullable(),
});
export type ConversionBatchListRow = z.infer<typeof conversionBatchListRow>;

/** Newest first by (created_at, batch_id). */
export async function listConversionBatches(
  connection: CommonQueryMethods,
  filter: TimeRangeFilter & { readonly state?: string; readonly after: SortKey | null; readonly limit: number },
): Promise<readonly ConversionBatchListRow[]> {
  const conditions = [sql.fragment`TRUE`, ...timeConditions('b.created_at', filter)];
  if (filter.state !== undefined) conditions.push(sql.fragment`b.state = ${filter.state}`);
  if (filter.after !== null) conditions.push(olderThan('b.created_at', 'b.batch_id', filter.after));
  return connection.any(sql.type(conversionBatchListRow)`
    SELECT ${sortAt('b.created_at')} AS sort_at, b.batch_id, b.state, b.trigger, b.member_count, b.total_usd, b.total_eth, b.usdt_received,
           b.exchange_id, b.exchange_status, b.failure_reason, b.created_at, b.finished_at, b.failed_at
    FROM conversion_batches b
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY b.created_at DESC, b.batch_id DESC
    LIMIT ${filter.limit + 1}`);
}

// ---- alerts -----------------------------------------------------------------------------------

const alertListRow = z.object({
  sort_at: z.string(),
  finding_id: z.string(),
  kind: z.string(),
  subject: z.string(),
  severity: z.enum(['warning', 'critical']),
  detail: z.string(),
  first_seen_at: z.date(),
  last_seen_at: z.date(),
  last_alerted_at: z.date(),
  alerts_emitted: z.number().int(),
  cleared_at: z.date().nullable(),
});
export type AlertListRow = z.infer<typeof alertListRow>;

/** The liveness check's findings (each one alerted through the outbox), newest first. */
export async function listAlerts(connection: CommonQueryMethods, filter: { readonly open: boolean; readonly after: SortKey | null; readonly limit: number }): Promise<readonly AlertListRow[]> {
  const conditions = [sql.fragment`TRUE`];
  if (filter.open) conditions.push(sql.fragment`f.cleared_at IS NULL`);
  if (filter.after !== null) conditions.push(olderThan('f.first_seen_at', 'f.finding_id', filter.after));
  return connection.any(sql.type(alertListRow)`
    SELECT ${sortAt('f.first_seen_at')} AS sort_at, f.finding_id, f.kind, f.subject, f.severity, f.detail, f.first_seen_at, f.last_seen_at,
           f.last_alerted_at, f.alerts_emitted, f.cleared_at
    FROM liveness_findings f
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY f.first_seen_at DESC, f.finding_id DESC
    LIMIT ${filter.limit + 1}`);
}
