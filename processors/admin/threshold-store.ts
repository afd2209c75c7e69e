// The runtime micro-batch threshold: a change is one transaction that audits it (old, new, who,
// when) and puts a PipelineConfig record in the outbox. The admin never writes pipeline_settings:
// the accumulator applies the record from the compacted pipeline-config topic and stores the value
// it applied there, so "in force" means "the deciding process has it", and the two are told apart
// in GET (`value` requested, `applied` in force).
import { randomUUID } from 'node:crypto';
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { Decimal } from '../../core/money.ts';
import { insertOutboxRecords } from '../../core/processing/outbox.ts';
import { topicNames } from '../../topics/topics.ts';
import { microBatchThresholdSetting, type MicroBatchThresholdLimits } from './micro-batch-threshold.ts';
import { lockForTransaction, thresholdLock } from '../../db/advisory-locks.ts';

/** The key of the pipeline-config topic's one record. */
export const pipelineConfigKey = 'pipeline';

const auditRow = z.object({
  change_id: z.string(),
  setting: z.string(),
  old_value: z.string().nullable(),
  new_value: z.string(),
  changed_by: z.string(),
  actor_note: z.string().nullable(),
  changed_at: z.date(),
});
export type ConfigAuditEntry = z.infer<typeof auditRow>;

const settingRow = z.object({ value: z.string(), updated_at: z.date() });

type Queryable = DatabasePool | DatabaseTransactionConnection;

export interface MicroBatchThresholdState {
  setting: typeof microBatchThresholdSetting;
  /** The value last set at runtime, else the configured default. */
  value: Decimal;
  source: 'default' | 'runtime';
  defaultValue: Decimal;
  /** What the accumulator has applied (pipeline_settings), if anything yet. */
  applied: { value: Decimal; updatedAt: Date } | null;
  lastChange: ConfigAuditEntry | null;
}

async function lastChangeOf(connection: Queryable): Promise<ConfigAuditEntry | null> {
  return connection.maybeOne(sql.type(auditRow)`
    SELECT change_id, setting, old_value, new_value, changed_by, actor_note, changed_at
    FROM config_audit WHERE setting = ${microBatchThresholdSetting}
    ORDER BY seq DESC LIMIT 1
  `);
}

export async function readMicroBatchThreshold(connection: Queryable, limits: MicroBatchThresholdLimits): Promise<MicroBatchThresholdState> {
  const lastChange = await lastChangeOf(connection);
  const applied = await connection.maybeOne(sql.type(settingRow)`
    SELECT value, updated_at FROM pipeline_settings WHERE setting = ${microBatchThresholdSetting}
  `);
  // The last audited change is the value requested most recently, even if the accumulator has
  // not applied it yet; before any change, a value the accumulator stored still beats the default.
  const runtimeText = lastChange?.new_value ?? applied?.value;
  return {
    setting: microBatchThresholdSetting,
    value: runtimeText === undefined ? limits.default : new Decimal(runtimeText),
    source: runtimeText === undefined ? 'default' : 'runtime',
    defaultValue: limits.default,
    applied: applied === null ? null : { value: new Decimal(applied.value), updatedAt: applied.updated_at },
    lastChange,
  };
}

export interface SetMicroBatchThresholdInput {
  pool: DatabasePool;
  limits: MicroBatchThresholdLimits;
  /** Already validated (parseMicroBatchThreshold). */
  value: Decimal;
  changedBy: string;
  /** What the caller said about the change (X-Actor-Note); never the actor. */
  actorNote?: string | null;
  now: Date;
  correlationId?: string;
}

export type SetMicroBatchThresholdOutcome =
  | { kind: 'changed'; change: ConfigAuditEntry; state: MicroBatchThresholdState }
  | { kind: 'unchanged'; state: MicroBatchThresholdState };

/**
 * The accumulator keeps the change with the latest changed_at (then change_id), whatever order
 * records arrive in; so each change is stamped after every earlier one, even when this host's clock
 * is behind the one that made the previous change. Otherwise a new threshold could be audited and
 * published and still lose to an older one.
 */
function monotonicChangeTime(now: Date, before: MicroBatchThresholdState): Date {
  const floors = [before.lastChange?.changed_at, before.applied?.updatedAt].filter((time): time is Date => time !== undefined);
  return new Date(Math.max(now.getTime(), ...floors.map((time) => time.getTime() + 1)));
}

/**
 * Sets the micro-batch threshold: the audit row and the PipelineConfig record, in one transaction.
 * Setting the value already in force writes nothing. Used by the admin API and the CLI alike.
 */
export async function setMicroBatchThreshold(input: SetMicroBatchThresholdInput): Promise<SetMicroBatchThresholdOutcome> {
  return input.pool.transaction(async (transaction) => {
    // Serialises threshold changes, so each audit row's old value is exactly the previous new value.
    await lockForTransaction(transaction, thresholdLock());
    const before = await readMicroBatchThreshold(transaction, input.limits);
    if (before.value.equals(input.value)) return { kind: 'unchanged', state: before };

    const change: ConfigAuditEntry = {
      change_id: randomUUID(),
      setting: microBatchThresholdSetting,
      old_value: before.value.toFixed(),
      new_value: input.value.toFixed(),
      changed_by: input.changedBy,
      actor_note: input.actorNote ?? null,
      changed_at: monotonicChangeTime(input.now, before),
    };
    await transaction.query(sql.unsafe`
      INSERT INTO config_audit (change_id, setting, old_value, new_value, changed_by, actor_note, changed_at)
      VALUES (${change.change_id}, ${change.setting}, ${change.old_value}, ${change.new_value}, ${change.changed_by},
              ${change.actor_note}, ${sql.timestamp(change.changed_at)})
    `);
    await insertOutboxRecords(transaction, [
      {
        topic: topicNames.pipelineConfig,
        schemaName: 'pipeline-config',
        key: pipelineConfigKey,
        value: {
          change_id: change.change_id,
          micro_batch_threshold_usd: input.value,
          changed_by: change.changed_by,
          changed_at: change.changed_at,
        },
        correlationId: input.correlationId ?? change.change_id,
      },
    ]);
    return { kind: 'changed', change, state: { ...before, value: input.value, source: 'runtime', lastChange: change } };
  });
}

export interface ListAuditOptions {
  setting?: string;
  limit: number;
}

/** Newest first. */
export async function listConfigAudit(connection: Queryable, options: ListAuditOptions): Promise<readonly ConfigAuditEntry[]> {
  const filter = options.setting === undefined ? sql.fragment`TRUE` : sql.fragment`setting = ${options.setting}`;
  return connection.any(sql.type(auditRow)`
    SELECT change_id, setting, old_value, new_value, changed_by, actor_note, changed_at
    FROM config_audit WHERE ${filter}
    ORDER BY seq DESC LIMIT ${options.limit}
  `);
}
