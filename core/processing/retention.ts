// Keeps the inbox (processed_messages) and the outbox from growing without end. Each consumer
// process prunes its own inbox namespace (rows older than INBOX_RETENTION, only for topics whose
// records Kafka deletes: see retention-policy.ts for why that keeps deduplication correct) and the
// outbox rows published longer ago than OUTBOX_RETENTION (a published row is never read again: the
// relay reads only unpublished rows, and consumers dedupe on business ids, not outbox ids).
// Deletes go in bounded batches, each its own short transaction, so pruning a large backlog never
// holds locks for long or competes with the chunk transactions in one huge statement.
import { sql, type DatabasePool } from 'slonik';
import { Counter } from 'prom-client';
import type { Logger } from '../logger.ts';
import type { MetricsRegistry } from '../metrics.ts';
import { PipelineError } from '../errors.ts';
import { topicDefinitions, type TopicDefinition } from '../../topics/topics.ts';
import { planInboxRetention, type InboxRetentionPlan } from './retention-policy.ts';

export interface RetentionOptions {
  pool: DatabasePool;
  log: Logger;
  metrics: MetricsRegistry;
  /** The consumer group whose inbox rows this process owns. */
  consumer: string;
  inboxRetentionMs: number;
  outboxRetentionMs: number;
  /** Rows per DELETE statement. */
  deleteBatchSizeMax?: number;
  /** A limit on one pass, so a huge backlog is worked off over several passes. */
  deleteBatchesPerPassMax?: number;
  topics?: readonly TopicDefinition[];
  now?: () => Date;
}

export interface RetentionPass {
  readonly inboxRowsDeleted: number;
  readonly outboxRowsDeleted: number;
}

export interface Retention {
  readonly plan: InboxRetentionPlan;
  pruneOnce(): Promise<RetentionPass>;
}

export function createRetention(options: RetentionOptions): Retention {
  const { pool, consumer } = options;
  const check = planInboxRetention(options.topics ?? topicDefinitions, options.inboxRetentionMs);
  // A window too short would let a replayed record apply twice: refuse to start.
  if (!check.ok) throw new PipelineError(check.reason, { context: { variable: 'INBOX_RETENTION' } });
  const { plan } = check;
  const batchSizeMax = options.deleteBatchSizeMax ?? 5_000;
  const batchesPerPassMax = options.deleteBatchesPerPassMax ?? 100;
  const now = options.now ?? (() => new Date());
  const deleted = new Counter({ name: 'retention_rows_deleted_total', help: 'Inbox and outbox rows pruned by the retention job', labelNames: ['table'] as const, registers: [options.metrics] });

  async function deleteInboxBatch(before: Date): Promise<number> {
    if (plan.prunableTopics.length === 0) return 0;
    const result = await pool.query(sql.unsafe`
      DELETE FROM processed_messages
      WHERE consumer = ${consumer} AND message_id IN (
        SELECT message_id FROM processed_messages
        WHERE consumer = ${consumer} AND topic = ANY(${sql.array([...plan.prunableTopics], 'text')}) AND processed_at < ${sql.timestamp(before)}
        LIMIT ${batchSizeMax})`);
    return result.rowCount;
  }

  async function deleteOutboxBatch(before: Date): Promise<number> {
    // Only published rows: an unpublished one is a record still owed to Kafka, whatever its age.
    const result = await pool.query(sql.unsafe`
      DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < ${sql.timestamp(before)}
        ORDER BY id LIMIT ${batchSizeMax})`);
    return result.rowCount;
  }

  async function drainBatches(deleteBatch: (before: Date) => Promise<number>, before: Date): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < batchesPerPassMax; batch += 1) {
      const count = await deleteBatch(before);
      total += count;
      if (count < batchSizeMax) break;
    }
    return total;
  }

  return {
    plan,
    async pruneOnce() {
      const nowMs = now().getTime();
      const inboxRowsDeleted = await drainBatches(deleteInboxBatch, new Date(nowMs - plan.inboxRetentionMs));
      const outboxRowsDeleted = await drainBatches(deleteOutboxBatch, new Date(nowMs - options.outboxRetentionMs));
      deleted.inc({ table: 'processed_messages' }, inboxRowsDeleted);
      deleted.inc({ table: 'outbox' }, outboxRowsDeleted);
      if (inboxRowsDeleted + outboxRowsDeleted > 0) options.log.info({ consumer, inboxRowsDeleted, outboxRowsDeleted }, 'retention pruned the inbox and the outbox');
      return { inboxRowsDeleted, outboxRowsDeleted };
    },
  };
}
