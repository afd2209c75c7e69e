// The per-client window's SQL: read the free credits as per-group totals (bounded) and the credits
// of the groups being paid, form payout batches (members,
// credits, PayoutRequested in the outbox — all or nothing, in the caller's transaction), form the
// retries that are due, keep the holds table and the operator requests up to date.
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { payoutBatchesTableRow } from '../../db/payout-batches-table.ts';
import { assertInvariant } from '../../core/errors.ts';
import { Decimal, usdtDetailScale } from '../../core/money.ts';
import { insertOutboxRecords, type OutboxRecord } from '../../core/processing/outbox.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { decimalValue } from '../../db/decimal-value.ts';
import type { PayoutReason, PayoutRequested } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import type { GroupArrival } from './unpaid-groups.ts';
import { groupKeyText, type GroupKey, type GroupSummary, type Hold, type WindowCredit, type WindowGroup } from './payout-window.ts';

const groupSummaryRow = z.object({
  client_id: z.string(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  unpaid_usdt: decimalColumn,
  credit_count: z.number().int(),
  oldest_credited_at: z.date(),
  strategy: z.string(),
  threshold_usd: decimalColumn.nullable(),
});

const freeCreditRow = z.object({
  credit_id: z.string(),
  client_id: z.string(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  usdt_amount: decimalColumn,
  credited_at: z.date(),
});

const openRequestRow = z.object({ request_id: z.string(), client_id: z.string(), requested_by: z.string() });

export interface OpenTriggerRequest {
  readonly requestId: string;
  readonly clientId: string;
  readonly requestedBy: string;
}

export interface WindowSummaries {
  /** Sorted by group key. */
  readonly groups: readonly GroupSummary[];
  readonly requests: readonly OpenTriggerRequest[];
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function compareCredits(left: WindowCredit, right: WindowCredit): number {
  const byTime = left.creditedAt.getTime() - right.creditedAt.getTime();
  if (byTime !== 0) return byTime;
  return compareText(left.creditId, right.creditId);
}

/** The keys as four parallel arrays, for `unnest(...) AS k (client_id, wallet_address, payout_currency, payout_network)`. */
function keysTable(keys: readonly GroupKey[]): FragmentSqlToken {
  return sql.fragment`unnest(${sql.array(keys.map((key) => key.clientId), 'text')}, ${sql.array(keys.map((key) => key.walletAddress), 'text')},
                             ${sql.array(keys.map((key) => key.payoutCurrency), 'text')}, ${sql.array(keys.map((key) => key.payoutNetwork), 'text')})
         AS k (client_id, wallet_address, payout_currency, payout_network)`;
}

async function readOpenRequests(connection: CommonQueryMethods): Promise<OpenTriggerRequest[]> {
  const rows = await connection.any(sql.type(openRequestRow)`
    SELECT request_id, client_id, requested_by FROM payout_trigger_requests WHERE handled_at IS NULL ORDER BY requested_at, request_id`);
  return rows.map((row) => ({ requestId: row.request_id, clientId: row.client_id, requestedBy: row.requested_by }));
}

/**
 * Free credits summed per group in SQL, never read row by row: `filter` picks the groups, `limit`
 * bounds how many. The redundant `payout_batch_id IS NULL` lets the planner use the partial index
 * of free credits (migration 015), which the view's CASE hides from it.
 */
async function readSummaries(
  connection: CommonQueryMethods,
  filter: FragmentSqlToken,
  manualClients: ReadonlySet<string>,
  page: { limit: number; after: GroupKey | null } | null,
): Promise<GroupSummary[]> {
  const manual = sql.array([...manualClients], 'text');
  const after = page?.after ?? null;
  // Groups after the cursor first, then the ones before it (the page wraps around).
  const rotation =
    after === null
      ? sql.fragment``
      : sql.fragment`(s.client_id COLLATE "C", s.wallet_address COLLATE "C", s.payout_currency COLLATE "C", s.payout_network COLLATE "C")
          > (${after.clientId}::text COLLATE "C", ${after.walletAddress}::text COLLATE "C", ${after.payoutCurrency}::text COLLATE "C", ${after.payoutNetwork}::text COLLATE "C") DESC,`;
  const rows = await connection.any(sql.type(groupSummaryRow)`
    SELECT g.client_id, g.wallet_address, g.payout_currency, g.payout_network, g.unpaid_usdt, g.credit_count, g.oldest_credited_at,
           c.strategy, c.threshold_usd
    FROM (
      SELECT s.client_id, s.wallet_address, s.payout_currency, s.payout_network,
             sum(s.usdt_amount) AS unpaid_usdt, count(*)::int AS credit_count, min(s.credited_at) AS oldest_credited_at
      FROM unpaid_credit_states s
      WHERE s.window_state = 'free' AND s.payout_batch_id IS NULL AND ${filter}
      GROUP BY s.client_id, s.wallet_address, s.payout_currency, s.payout_network
      -- Past the limit, the groups an operator asked for come first, then the groups in key order
      -- from where the previous evaluation's page ended, wrapping around: every group is decided
      -- within (groups ÷ limit) evaluations. Oldest-first would let groups that stay held (below
      -- the exchange's minimum, say) take every slot for ever.
      ORDER BY s.client_id = ANY(${manual}) DESC, ${rotation}
               s.client_id COLLATE "C", s.wallet_address COLLATE "C", s.payout_currency COLLATE "C", s.payout_network COLLATE "C"
      ${page === null ? sql.fragment`` : sql.fragment`LIMIT ${page.limit}`}
    ) g JOIN clients c ON c.client_id = g.client_id`);
  return rows
    .map((row): GroupSummary => ({
      key: { clientId: row.client_id, walletAddress: row.wallet_address, payoutCurrency: row.payout_currency, payoutNetwork: row.payout_network },
      unpaidUsdt: row.unpaid_usdt,
      creditCount: row.credit_count,
      oldestCreditedAt: row.oldest_credited_at,
      thresholdUsd: row.strategy === 'instant' ? null : row.threshold_usd,
      manual: manualClients.has(row.client_id),
    }))
    // Sorted in JS, so the order never depends on the database's collation.
    .sort((left, right) => compareText(groupKeyText(left.key), groupKeyText(right.key)));
}

/**
 * At most `limit` free groups as totals — the ones operators asked for first, then in key order
 * after `after` (the last key of the previous full page), wrapping around — and the open operator
 * requests.
 */
export async function readWindowSummaries(connection: CommonQueryMethods, limit: number, after: GroupKey | null = null): Promise<WindowSummaries> {
  const requests = await readOpenRequests(connection);
  const manualClients = new Set(requests.map((request) => request.clientId));
  return { groups: await readSummaries(connection, sql.fragment`true`, manualClients, { limit, after }), requests };
}

/**
 * The totals again, of the given groups and of every group of a client with an open request (the
 * request is answered once all of them are decided), and the open requests. The groups are listed
 * first and then summed, so PostgreSQL reads each one through the index instead of filtering all.
 */
export async function readChosenSummaries(connection: CommonQueryMethods, keys: readonly GroupKey[]): Promise<WindowSummaries> {
  const requests = await readOpenRequests(connection);
  const manualClients = new Set(requests.map((request) => request.clientId));
  const filter = sql.fragment`(s.client_id, s.wallet_address, s.payout_currency, s.payout_network) IN (
      SELECT * FROM ${keysTable(keys)}
      UNION
      SELECT u.client_id, u.wallet_address, u.payout_currency, u.payout_network FROM usdt_credits u
      WHERE u.client_id = ANY(${sql.array([...manualClients], 'text')}) AND u.paid_out_at IS NULL AND u.payout_batch_id IS NULL)`;
  return { groups: await readSummaries(connection, filter, manualClients, null), requests };
}

const arrivalRow = z.object({
  client_id: z.string(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  usdt: decimalColumn,
  oldest_credited_at: z.date(),
  strategy: z.string().nullable(),
  threshold_usd: decimalColumn.nullable(),
});

function arrivalOf(row: z.infer<typeof arrivalRow>): GroupArrival {
  return {
    key: { clientId: row.client_id, walletAddress: row.wallet_address, payoutCurrency: row.payout_currency, payoutNetwork: row.payout_network },
    usdt: row.usdt,
    oldestCreditedAt: row.oldest_credited_at,
    // No client row (never expected): unknown, so the full decision looks at it.
    thresholdUsd: row.strategy === null ? undefined : row.strategy === 'instant' ? null : row.threshold_usd,
  };
}

/**
 * The credits the given conversion batches issued, summed per group, with each client's threshold
 * as it is now (through usdt_credits_conversion_batch: O(new credits)). Whatever became of them
 * since — paid by another instance, say — they are counted: an over-estimate, never an under-.
 */
export async function readIssuedCredits(connection: CommonQueryMethods, conversionBatchIds: readonly string[]): Promise<GroupArrival[]> {
  if (conversionBatchIds.length === 0) return [];
  const rows = await connection.any(sql.type(arrivalRow)`
    SELECT u.client_id, u.wallet_address, u.payout_currency, u.payout_network, sum(u.usdt_amount) AS usdt, min(u.credited_at) AS oldest_credited_at,
           c.strategy, c.threshold_usd
    FROM usdt_credits u LEFT JOIN clients c ON c.client_id = u.client_id
    WHERE u.conversion_batch_id = ANY(${sql.array([...conversionBatchIds], 'text')})
    GROUP BY u.client_id, u.wallet_address, u.payout_currency, u.payout_network, c.strategy, c.threshold_usd`);
  return rows.map(arrivalOf);
}

/**
 * Every group's unpaid credits that are in no live payout batch, summed in one aggregate query over
 * the partial index of those credits (usdt_credits_window_free, an index-only scan), with each
 * client's threshold: the incremental window's rebuild (at start, on a reconnect, as a safety net).
 * It does not go through unpaid_credit_states, whose per-credit lookup of failed memberships made
 * this read take seconds at 100k credits: the credits of a failed batch waiting for its retry are
 * counted too — an over-estimate the state allows (one wasted decision per rebuild at most).
 */
export async function readAllGroupTotals(connection: CommonQueryMethods): Promise<GroupArrival[]> {
  const rows = await connection.any(sql.type(arrivalRow)`
    SELECT g.client_id, g.wallet_address, g.payout_currency, g.payout_network, g.usdt, g.oldest_credited_at, c.strategy, c.threshold_usd
    FROM (
      SELECT u.client_id, u.wallet_address, u.payout_currency, u.payout_network, sum(u.usdt_amount) AS usdt, min(u.credited_at) AS oldest_credited_at
      FROM usdt_credits u
      WHERE u.paid_out_at IS NULL AND u.payout_batch_id IS NULL
      GROUP BY u.client_id, u.wallet_address, u.payout_currency, u.payout_network
    ) g LEFT JOIN clients c ON c.client_id = g.client_id`);
  return rows.map(arrivalOf);
}

const windowWorkRow = z.object({ open_requests: z.boolean(), retries_due: z.boolean() });

/** Whether an operator's payout request is open or a failed batch's retry is due: two index probes in one round trip. */
export async function readWindowWork(connection: CommonQueryMethods, now: Date): Promise<{ readonly openRequests: boolean; readonly retriesDue: boolean }> {
  const row = await connection.one(sql.type(windowWorkRow)`
    SELECT EXISTS (SELECT 1 FROM payout_trigger_requests WHERE handled_at IS NULL) AS open_requests,
           EXISTS (SELECT 1 FROM payout_batches_awaiting_retry b WHERE b.next_retry_at <= ${sql.timestamp(now)}) AS retries_due`);
  return { openRequests: row.open_requests, retriesDue: row.retries_due };
}

/** The free credits of the given groups, oldest first, as the groups the decision splits into batches. */
export async function readGroupCredits(connection: CommonQueryMethods, summaries: readonly GroupSummary[]): Promise<WindowGroup[]> {
  if (summaries.length === 0) return [];
  const rows = await connection.any(sql.type(freeCreditRow)`
    SELECT s.credit_id, s.client_id, s.wallet_address, s.payout_currency, s.payout_network, s.usdt_amount, s.credited_at
    FROM ${keysTable(summaries.map((summary) => summary.key))}
    JOIN unpaid_credit_states s
      ON (s.client_id, s.wallet_address, s.payout_currency, s.payout_network) = (k.client_id, k.wallet_address, k.payout_currency, k.payout_network)
    WHERE s.window_state = 'free' AND s.payout_batch_id IS NULL`);
  const credits = new Map<string, WindowCredit[]>();
  for (const row of rows) {
    const text = groupKeyText({ clientId: row.client_id, walletAddress: row.wallet_address, payoutCurrency: row.payout_currency, payoutNetwork: row.payout_network });
    const list = credits.get(text) ?? [];
    list.push({ creditId: row.credit_id, usdtAmount: row.usdt_amount, creditedAt: row.credited_at });
    credits.set(text, list);
  }
  return summaries.flatMap((summary) => {
    const list = credits.get(groupKeyText(summary.key));
    // Gone since the totals were read (paid or taken by another decision): nothing to decide.
    if (list === undefined) return [];
    return [{ key: summary.key, credits: list.sort(compareCredits), thresholdUsd: summary.thresholdUsd, manual: summary.manual }];
  });
}

export interface NewPayoutBatch {
  readonly batchId: string;
  readonly key: GroupKey;
  readonly reason: 'threshold' | 'max_age' | 'manual' | 'retry';
  readonly sourceCurrency: string;
  readonly sourceAmount: Decimal;
  readonly usdValue: Decimal;
  readonly credits: readonly { readonly creditId: string; readonly usdtAmount: Decimal }[];
  readonly requestedBy: string | null;
  readonly retryOf: { readonly batchId: string; readonly originBatchId: string; readonly attempts: number } | null;
  readonly correlationId: string;
}

const payoutReasons: Record<NewPayoutBatch['reason'], PayoutReason> = { threshold: 'THRESHOLD', max_age: 'MAX_AGE', manual: 'MANUAL', retry: 'RETRY' };

function payoutRequestedOf(batch: NewPayoutBatch, now: Date): OutboxRecord<'payout-requested'> {
  const value: PayoutRequested = {
    // A new command id per batch, retries included: the connector runs each command at most once.
    command_id: batch.batchId,
    payout_batch_id: batch.batchId,
    client_id: batch.key.clientId,
    reason: payoutReasons[batch.reason],
    from_currency: batch.sourceCurrency,
    from_network: 'eth',
    amount: batch.sourceAmount,
    usd_value: batch.usdValue,
    to_currency: batch.key.payoutCurrency,
    to_network: batch.key.payoutNetwork,
    payout_address: batch.key.walletAddress,
    requested_at: now,
  };
  return { topic: topicNames.payoutRequests, schemaName: 'payout-requested', key: batch.key.clientId, value, correlationId: batch.correlationId, headers: { 'payout-batch-id': batch.batchId } };
}

/** The batch, its members, its credits taken out of the window, its command in the outbox. */
export async function insertPayoutBatch(transaction: DatabaseTransactionConnection, batch: NewPayoutBatch, now: Date): Promise<void> {
  const { key } = batch;
  await transaction.query(sql.unsafe`
    INSERT INTO payout_batches (batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency,
                                source_amount, usd_value, attempts, retry_of, origin_batch_id, requested_by, created_at)
    VALUES (${batch.batchId}, ${key.clientId}, ${batch.reason}, 'requested', ${key.walletAddress}, ${key.payoutCurrency}, ${key.payoutNetwork},
            ${batch.sourceCurrency}, ${decimalValue(batch.sourceAmount)}, ${decimalValue(batch.usdValue)}, ${batch.retryOf === null ? 0 : batch.retryOf.attempts + 1},
            ${batch.retryOf?.batchId ?? null}, ${batch.retryOf?.originBatchId ?? null}, ${batch.requestedBy}, ${sql.timestamp(now)})`);
  if (batch.credits.length > 0) {
    const creditIds = batch.credits.map((credit) => credit.creditId);
    await transaction.query(sql.unsafe`
      INSERT INTO payout_batch_members (payout_batch_id, credit_id, usdt_amount, joined_at)
      SELECT ${batch.batchId}, member.credit_id, member.usdt_amount, ${sql.timestamp(now)}
      FROM unnest(${sql.array(creditIds, 'text')}, ${sql.array(batch.credits.map((credit) => credit.usdtAmount.toFixed()), 'numeric')}) AS member (credit_id, usdt_amount)`);
    const taken = await transaction.query(sql.unsafe`
      UPDATE usdt_credits SET payout_batch_id = ${batch.batchId}
      WHERE credit_id = ANY(${sql.array(creditIds, 'text')}) AND payout_batch_id IS NULL AND paid_out_at IS NULL`);
    assertInvariant(taken.rowCount === creditIds.length, 'every credit of a new payout batch was free', { batchId: batch.batchId, credits: creditIds.length, taken: taken.rowCount });
  }
  await insertOutboxRecords(transaction, [payoutRequestedOf(batch, now)]);
}

const dueRetryRow = payoutBatchesTableRow.pick({
  batch_id: true, client_id: true, wallet_address: true, payout_currency: true, payout_network: true,
  source_currency: true, source_amount: true, usd_value: true, attempts: true, origin_batch_id: true,
  retry_requested_by: true,
});

const retryCreditRow = z.object({ credit_id: z.string(), usdt_amount: decimalColumn });

export interface DueRetry {
  readonly failedBatchId: string;
  readonly key: GroupKey;
  readonly sourceCurrency: string;
  readonly sourceAmount: Decimal;
  readonly usdValue: Decimal;
  readonly attempts: number;
  readonly originBatchId: string;
  readonly requestedBy: string | null;
  /** The failed batch's credits, still unpaid and free (empty for an instant payout, which has none). */
  readonly credits: readonly { readonly creditId: string; readonly usdtAmount: Decimal }[];
}

/** Failed batches whose retry is due and not formed yet, oldest due first, at most `limit`. */
export async function readDueRetries(transaction: DatabaseTransactionConnection, now: Date, limit: number): Promise<DueRetry[]> {
  const rows = await transaction.any(sql.type(dueRetryRow)`
    SELECT b.batch_id, b.client_id, b.wallet_address, b.payout_currency, b.payout_network, b.source_currency, b.source_amount, b.usd_value,
           b.attempts, b.origin_batch_id, b.retry_requested_by
    FROM payout_batches_awaiting_retry b
    WHERE b.next_retry_at <= ${sql.timestamp(now)}
    ORDER BY b.next_retry_at, b.batch_id
    LIMIT ${limit}`);
  const retries: DueRetry[] = [];
  for (const row of rows) {
    const credits = await transaction.any(sql.type(retryCreditRow)`
      SELECT c.credit_id, c.usdt_amount
      FROM payout_batch_members m JOIN usdt_credits c ON c.credit_id = m.credit_id
      WHERE m.payout_batch_id = ${row.batch_id} AND c.paid_out_at IS NULL AND c.payout_batch_id IS NULL
      ORDER BY c.credited_at, c.credit_id`);
    retries.push({
      failedBatchId: row.batch_id,
      key: { clientId: row.client_id, walletAddress: row.wallet_address, payoutCurrency: row.payout_currency, payoutNetwork: row.payout_network },
      sourceCurrency: row.source_currency,
      sourceAmount: row.source_amount,
      usdValue: row.usd_value,
      attempts: row.attempts,
      originBatchId: row.origin_batch_id ?? row.batch_id,
      requestedBy: row.retry_requested_by,
      credits: credits.map((credit) => ({ creditId: credit.credit_id, usdtAmount: credit.usdt_amount })),
    });
  }
  return retries;
}

/** The failed batch no longer waits for a retry: either its retry exists now, or it cannot be formed. */
export async function clearRetry(transaction: DatabaseTransactionConnection, failedBatchId: string): Promise<void> {
  await transaction.query(sql.unsafe`UPDATE payout_batches SET next_retry_at = NULL WHERE batch_id = ${failedBatchId}`);
}

export function sumUsdt(credits: readonly { readonly usdtAmount: Decimal }[]): Decimal {
  return credits.reduce((sum, credit) => sum.plus(credit.usdtAmount), new Decimal(0));
}

/**
 * Updates the holds of the groups decided now: a group keeps the hold it got or loses its hold. A
 * group that still waits for a quote, or that this evaluation did not read (past its limit), keeps
 * its previous hold; a group no longer free (paid, in flight) loses it.
 */
export async function replaceHolds(
  transaction: DatabaseTransactionConnection,
  decided: readonly { readonly key: GroupKey; readonly hold: Hold | null }[],
  now: Date,
): Promise<void> {
  const held = decided.flatMap((entry) => (entry.hold === null ? [] : [{ key: entry.key, hold: entry.hold }]));
  const cleared = decided.flatMap((entry) => (entry.hold === null ? [entry.key] : []));
  await transaction.query(sql.unsafe`
    DELETE FROM payout_group_holds h
    WHERE (h.client_id, h.wallet_address, h.payout_currency, h.payout_network) IN (SELECT * FROM ${keysTable(cleared)})
       OR NOT EXISTS (
            SELECT 1 FROM unpaid_credit_states s
            WHERE (s.client_id, s.wallet_address, s.payout_currency, s.payout_network) = (h.client_id, h.wallet_address, h.payout_currency, h.payout_network)
              AND s.window_state = 'free' AND s.payout_batch_id IS NULL)`);
  const optional = (value: Decimal | null) => (value === null ? null : decimalValue(value));
  for (const { key, hold } of held) {
    await transaction.query(sql.unsafe`
      INSERT INTO payout_group_holds (client_id, wallet_address, payout_currency, payout_network, state, reason, unpaid_usdt,
                                      minimum_usdt, maximum_usdt, estimated_fee_usdt, fee_floor_percent, evaluated_at)
      VALUES (${key.clientId}, ${key.walletAddress}, ${key.payoutCurrency}, ${key.payoutNetwork}, ${hold.state}, ${hold.reason},
              ${decimalValue(hold.unpaidUsdt)}, ${optional(hold.minimumUsdt)}, ${optional(hold.maximumUsdt)},
              ${optional(hold.estimatedFeeUsdt === null ? null : hold.estimatedFeeUsdt.toDecimalPlaces(usdtDetailScale))}, ${optional(hold.feeFloorPercent)}, ${sql.timestamp(now)})
      ON CONFLICT (client_id, wallet_address, payout_currency, payout_network) DO UPDATE SET
        state = EXCLUDED.state, reason = EXCLUDED.reason, unpaid_usdt = EXCLUDED.unpaid_usdt, minimum_usdt = EXCLUDED.minimum_usdt,
        maximum_usdt = EXCLUDED.maximum_usdt, estimated_fee_usdt = EXCLUDED.estimated_fee_usdt, fee_floor_percent = EXCLUDED.fee_floor_percent,
        evaluated_at = EXCLUDED.evaluated_at`);
  }
}

export async function markRequestHandled(transaction: DatabaseTransactionConnection, requestId: string, outcome: string, now: Date): Promise<void> {
  await transaction.query(sql.unsafe`
    UPDATE payout_trigger_requests SET handled_at = ${sql.timestamp(now)}, outcome = ${outcome} WHERE request_id = ${requestId} AND handled_at IS NULL`);
}
