// An operator's resolution of a conversion that failed after its pay-in (state needs_recovery),
// shared by POST /api/conversion-batches/:batchId/recovery and `cli recovery resolve`:
// - refund_received: the exchange refunded the ETH to the host wallet; the batch is failed and its
//   payments go back to pending_conversion (released memberships), to be converted again;
// - recovered: the USDT an operator got out of the exchange is distributed exactly as a finished
//   conversion's would be (same planCredits, same writes, one CreditIssued per credit);
// - written_off: the money is lost; the batch and its payments are written_off, with who and why.
//
// Exactly once: one transaction takes settlement's lock (serialised with the swap-event handler and
// the payout window), locks the batch row and acts only while it is needs_recovery; the resolution,
// the ledger change and the CreditIssued records (outbox) commit together, so a second resolution,
// whoever sends it, finds the batch resolved and changes nothing (409).
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { InvariantViolation } from '../../core/errors.ts';
import type { Decimal } from '../../core/money.ts';
import { insertOutboxRecords } from '../../core/processing/outbox.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { decimalValue } from '../../db/decimal-value.ts';
import { notifyReturnedToPending, returnedToPendingRow } from './returned-to-pending.ts';
import { usdtBaseUnitsOf } from './conversion-credits.ts';
import { distributeConversion, lockConversionBatch } from './conversion-store.ts';
import { creditIssuedRecords } from './settlement-handler.ts';
import { lockSettlement } from './settlement-lock.ts';

export const recoveryResolutions = ['refund_received', 'recovered', 'written_off'] as const;
export type RecoveryResolution = (typeof recoveryResolutions)[number];

export type RecoveryInput =
  | { readonly resolution: 'refund_received'; readonly note: string | null }
  | { readonly resolution: 'recovered'; readonly usdtAmount: Decimal; readonly note: string | null }
  | { readonly resolution: 'written_off'; readonly note: string };

export type RecoveryOutcome =
  | { readonly kind: 'batch_not_found' }
  | { readonly kind: 'not_needing_recovery'; readonly state: string }
  | { readonly kind: 'invalid_amount'; readonly reason: string }
  | { readonly kind: 'resolved'; readonly resolution: RecoveryResolution; readonly payments: number; readonly credits: number };

export async function resolveConversionRecovery(
  pool: DatabasePool,
  options: { readonly batchId: string; readonly input: RecoveryInput; readonly actor: string; readonly now: Date; readonly correlationId: string },
): Promise<RecoveryOutcome> {
  const { batchId, input, actor, now } = options;
  if (input.resolution === 'recovered') {
    const baseUnits = usdtBaseUnitsOf(input.usdtAmount);
    if (baseUnits === undefined || baseUnits === 0n) return { kind: 'invalid_amount', reason: 'a positive USDT amount with at most 6 decimals' };
  }
  return pool.transaction(async (transaction) => {
    await lockSettlement(transaction);
    const batch = await lockConversionBatch(transaction, batchId);
    if (batch === null) return { kind: 'batch_not_found' };
    if (batch.state !== 'needs_recovery') return { kind: 'not_needing_recovery', state: batch.state };
    const at = sql.timestamp(now);
    const usdtRecovered = input.resolution === 'recovered' ? decimalValue(input.usdtAmount) : null;
    const resolved = await transaction.query(sql.unsafe`
      UPDATE conversion_recoveries
      SET resolution = ${input.resolution}, resolved_by = ${actor}, resolved_at = ${at}, note = ${input.note}, usdt_recovered = ${usdtRecovered}
      WHERE batch_id = ${batchId} AND resolution IS NULL`);
    if (resolved.rowCount !== 1) throw new InvariantViolation('a batch that needs recovery has one open recovery', { batchId });
    switch (input.resolution) {
      case 'refund_received': {
        await transaction.query(sql.unsafe`UPDATE conversion_batches SET state = 'failed' WHERE batch_id = ${batchId}`);
        await transaction.query(sql.unsafe`
          UPDATE conversion_batch_members SET released_at = ${at}, release_reason = ${`refund received (recovery resolved by ${actor})`}
          WHERE batch_id = ${batchId} AND released_at IS NULL`);
        const returned = await transaction.any(sql.type(returnedToPendingRow)`
          UPDATE payment_ledger SET state = 'pending_conversion', conversion_batch_id = NULL, updated_at = ${at}
          WHERE conversion_batch_id = ${batchId} AND state = 'needs_recovery'
          RETURNING usd_net, received_at`);
        await notifyReturnedToPending(transaction, returned);
        return { kind: 'resolved', resolution: input.resolution, payments: returned.length, credits: 0 };
      }
      case 'recovered': {
        // Back to the state a finished conversion starts from, so the very same distribution runs.
        await transaction.query(sql.unsafe`UPDATE conversion_batches SET state = 'swapping' WHERE batch_id = ${batchId}`);
        await transaction.query(sql.unsafe`
          UPDATE payment_ledger SET state = 'swapping', updated_at = ${at} WHERE conversion_batch_id = ${batchId} AND state = 'needs_recovery'`);
        const outcome = { batchId, exchangeId: null, exchangeStatus: null, ethSent: null, payinHash: null, payoutHash: null };
        const { members, credits } = await distributeConversion(transaction, { ...batch, state: 'swapping' }, outcome, usdtBaseUnitsOf(input.usdtAmount) ?? 0n, now);
        await insertOutboxRecords(transaction, creditIssuedRecords(batchId, credits, now, options.correlationId));
        return { kind: 'resolved', resolution: input.resolution, payments: members.length, credits: credits.length };
      }
      case 'written_off': {
        await transaction.query(sql.unsafe`UPDATE conversion_batches SET state = 'written_off' WHERE batch_id = ${batchId}`);
        const written = await transaction.query(sql.unsafe`
          UPDATE payment_ledger SET state = 'written_off', updated_at = ${at} WHERE conversion_batch_id = ${batchId} AND state = 'needs_recovery'`);
        return { kind: 'resolved', resolution: input.resolution, payments: written.rowCount, credits: 0 };
      }
    }
  });
}

const recoveryRow = z.object({
  batch_id: z.string(),
  state: z.string(),
  member_count: z.number().int(),
  total_usd: decimalColumn,
  total_eth: decimalColumn,
  exchange_id: z.string().nullable(),
  exchange_status: z.string().nullable(),
  reported_reason: z.string(),
  payin_hash: z.string().nullable(),
  opened_at: z.date(),
  resolution: z.string().nullable(),
  usdt_recovered: decimalColumn.nullable(),
  resolved_by: z.string().nullable(),
  resolved_at: z.date().nullable(),
  note: z.string().nullable(),
});
export type ConversionRecoveryRow = z.infer<typeof recoveryRow>;

/** Every conversion that failed after its pay-in, open ones first, then the newest resolved. */
export async function listConversionRecoveries(pool: DatabasePool, limit: number): Promise<readonly ConversionRecoveryRow[]> {
  return pool.any(sql.type(recoveryRow)`
    SELECT b.batch_id, b.state, b.member_count, b.total_usd, b.total_eth, r.exchange_id, r.exchange_status, r.reported_reason, r.payin_hash, r.opened_at,
           r.resolution, r.usdt_recovered, r.resolved_by, r.resolved_at, r.note
    FROM conversion_recoveries r JOIN conversion_batches b ON b.batch_id = r.batch_id
    ORDER BY (r.resolution IS NULL) DESC, coalesce(r.resolved_at, r.opened_at) DESC, r.batch_id
    LIMIT ${limit}`);
}

export function recoveryView(row: ConversionRecoveryRow) {
  return {
    batch_id: row.batch_id,
    state: row.state,
    payments: row.member_count,
    total_usd: row.total_usd.toFixed(),
    total_eth: row.total_eth.toFixed(),
    exchange_id: row.exchange_id,
    exchange_status: row.exchange_status,
    reported_reason: row.reported_reason,
    payin_hash: row.payin_hash,
    opened_at: row.opened_at.toISOString(),
    resolution: row.resolution,
    usdt_recovered: row.usdt_recovered?.toFixed() ?? null,
    resolved_by: row.resolved_by,
    resolved_at: row.resolved_at?.toISOString() ?? null,
    note: row.note,
  };
}
