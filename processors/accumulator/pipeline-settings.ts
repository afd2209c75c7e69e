// The micro-batch threshold in PostgreSQL: the accumulator's copy of the newest change on the
// compacted pipeline-config topic. The topic is the source of truth and the admin API its only
// producer; this row is what every window evaluation reads, in its own transaction.
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { InvariantViolation } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';
import { thresholdProblemOf } from './micro-batch-threshold.ts';

export const microBatchThresholdSetting = 'micro_batch_threshold_usd';

export type ThresholdSource =
  | { readonly kind: 'pipeline-config'; readonly changeId: string | null; readonly changedBy: string | null; readonly changedAt: Date }
  | { readonly kind: 'default'; readonly variable: 'MICRO_BATCH_THRESHOLD_USD' };

export interface ThresholdInForce {
  readonly thresholdUsd: Decimal;
  readonly source: ThresholdSource;
}

export interface ThresholdLimits {
  /** MICRO_BATCH_THRESHOLD_USD: in force until the first change arrives on pipeline-config. */
  readonly defaultUsd: Decimal;
  /** MICRO_BATCH_THRESHOLD_MAX_USD. */
  readonly ceilingUsd: Decimal;
}

const settingRow = z.object({
  value: z.string(),
  updated_at: z.date(),
  change_id: z.string().nullable(),
  changed_by: z.string().nullable(),
});

export async function readThresholdInForce(connection: CommonQueryMethods, limits: ThresholdLimits): Promise<ThresholdInForce> {
  const row = await connection.maybeOne(sql.type(settingRow)`
    SELECT value, updated_at, change_id, changed_by FROM pipeline_settings WHERE setting = ${microBatchThresholdSetting}
  `);
  if (row === null) return { thresholdUsd: limits.defaultUsd, source: { kind: 'default', variable: 'MICRO_BATCH_THRESHOLD_USD' } };
  // Only validated values are ever written here; anything else is a hand edit, and batching on a
  // threshold nobody chose would move money on a wrong decision, so evaluation stops instead.
  let thresholdUsd: Decimal;
  try {
    thresholdUsd = new Decimal(row.value);
  } catch (error) {
    throw new InvariantViolation('pipeline_settings holds a micro-batch threshold that is not a number', { value: row.value, cause: String(error) });
  }
  const problem = thresholdProblemOf(thresholdUsd, limits.ceilingUsd);
  if (problem !== undefined) throw new InvariantViolation(`pipeline_settings holds an invalid micro-batch threshold: ${problem.message}`, { value: row.value });
  return { thresholdUsd, source: { kind: 'pipeline-config', changeId: row.change_id, changedBy: row.changed_by, changedAt: row.updated_at } };
}

export interface ThresholdChangeRow {
  readonly changeId: string;
  readonly thresholdUsd: Decimal;
  readonly changedBy: string;
  readonly changedAt: Date;
}

/**
 * Puts the change in force unless the one in force is newer (same order as isNewerChange: changed_at,
 * then change_id). Returns whether it was applied.
 */
export async function applyThresholdChange(transaction: DatabaseTransactionConnection, change: ThresholdChangeRow): Promise<boolean> {
  const applied = await transaction.maybeOne(sql.type(z.object({ setting: z.string() }))`
    INSERT INTO pipeline_settings (setting, value, updated_at, change_id, changed_by)
    VALUES (${microBatchThresholdSetting}, ${change.thresholdUsd.toFixed()}, ${sql.timestamp(change.changedAt)}, ${change.changeId}, ${change.changedBy})
    ON CONFLICT (setting) DO UPDATE
      SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, change_id = EXCLUDED.change_id, changed_by = EXCLUDED.changed_by
      WHERE (pipeline_settings.updated_at, coalesce(pipeline_settings.change_id, '') COLLATE "C")
          < (EXCLUDED.updated_at, EXCLUDED.change_id COLLATE "C")
    RETURNING setting
  `);
  return applied !== null;
}
