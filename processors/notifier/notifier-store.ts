// The notifier's SQL over notifier_deliveries (db/migrations/019_notifier_deliveries.sql): planning
// deliveries in the consumer's chunk transaction, and the worker's claim, delivered, retry and
// dead-letter statements on the pool. The notifier is the table's only writer (docs/ownership.md).
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { insertDeadLetters, type DeadLetter } from '../../core/processing/outbox.ts';
import type { AlertMessage } from './alert-message.ts';

/** One planned delivery: an alert event for one URL, with the consumed record it came from. */
export interface PlannedDelivery {
  readonly alertId: string;
  readonly url: string;
  readonly message: AlertMessage;
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: string;
  readonly messageKey: string | null;
  readonly correlationId: string;
  readonly raw: Buffer;
}

export interface NotifierStore {
  /** Inserts the deliveries not planned before; resets dead-lettered ones to pending (a replay). Returns how many rows it wrote. */
  planDeliveries(deliveries: readonly PlannedDelivery[], now: Date): Promise<number>;
}

const countRow = z.object({ count: z.number().int() });

export function openNotifierStore(transaction: DatabaseTransactionConnection): NotifierStore {
  return {
    async planDeliveries(deliveries, now) {
      if (deliveries.length === 0) return 0;
      // De-duplication: the primary key (alert_id, url). A replayed, restarted or rebalanced alert
      // meets its rows here and leaves a pending or delivered row alone, so it is never posted
      // twice to the same URL; only a dead-lettered row (never delivered) is planned again, which
      // is what replaying its dead letter asks for. Written in the chunk's transaction with the
      // inbox claim: the rows exist if and only if the alert was consumed.
      const written = await transaction.one(sql.type(countRow)`
        WITH written AS (
          INSERT INTO notifier_deliveries (alert_id, url, message, next_attempt_at, source_topic, source_partition, source_offset, message_key, correlation_id, raw, created_at)
          SELECT d.alert_id, d.url, d.message::jsonb, ${sql.timestamp(now)}, d.source_topic, d.source_partition, d.source_offset, d.message_key, d.correlation_id,
                 decode(d.raw_hex, 'hex'), ${sql.timestamp(now)}
          FROM unnest(
            ${sql.array(deliveries.map((d) => d.alertId), 'text')},
            ${sql.array(deliveries.map((d) => d.url), 'text')},
            ${sql.array(deliveries.map((d) => JSON.stringify(d.message)), 'text')},
            ${sql.array(deliveries.map((d) => d.sourceTopic), 'text')},
            ${sql.array(deliveries.map((d) => d.sourcePartition), 'int4')},
            ${sql.array(deliveries.map((d) => d.sourceOffset), 'text')},
            ${sql.array(deliveries.map((d) => d.messageKey), 'text')},
            ${sql.array(deliveries.map((d) => d.correlationId), 'text')},
            ${sql.array(deliveries.map((d) => d.raw.toString('hex')), 'text')}
          ) AS d (alert_id, url, message, source_topic, source_partition, source_offset, message_key, correlation_id, raw_hex)
          ON CONFLICT (alert_id, url) DO UPDATE SET
            state = 'pending', attempts = 0, next_attempt_at = EXCLUDED.next_attempt_at, last_error = NULL, finished_at = NULL,
            source_topic = EXCLUDED.source_topic, source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset,
            correlation_id = EXCLUDED.correlation_id, raw = EXCLUDED.raw
          WHERE notifier_deliveries.state = 'dead_lettered'
          RETURNING 1
        )
        SELECT count(*)::int AS count FROM written`);
      return written.count;
    },
  };
}

const claimedRow = z.object({
  alert_id: z.string(),
  url: z.string(),
  message: z.record(z.string(), z.unknown()),
  attempts: z.number().int(),
});

export interface ClaimedDelivery {
  readonly alertId: string;
  readonly url: string;
  /** The JSON body, as planned. */
  readonly message: Readonly<Record<string, unknown>>;
  /** This attempt's number (1 = the first). */
  readonly attempt: number;
}

const deadLetterRow = z.object({
  message_key: z.string().nullable(),
  correlation_id: z.string(),
  source_topic: z.string(),
  source_partition: z.number().int(),
  source_offset: z.string(),
  raw_hex: z.string(),
});

export interface DeliveryQueue {
  /**
   * Claims up to `limit` due pending deliveries and counts the attempt. The claim is a lease: the
   * row's next attempt moves to now + `leaseMs`, so a second notifier instance skips it (the
   * SKIP LOCKED row lock covers the claim itself), and a worker that died mid-attempt leaves it to
   * be tried again once the lease ends.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<readonly ClaimedDelivery[]>;
  markDelivered(delivery: ClaimedDelivery, now: Date): Promise<void>;
  scheduleRetry(delivery: ClaimedDelivery, now: Date, delayMs: number, error: string): Promise<void>;
  /**
   * Gives the delivery up: the row becomes dead_lettered and the alert's record goes to
   * `alerts.dlq` with the reason, in one transaction (the dead letter exists if and only if the row
   * says so). The consumer's inbox claim on the alert is released in it too, so `replay` of the
   * dead letter is consumed as new and plans this URL again (planDeliveries).
   */
  deadLetter(delivery: ClaimedDelivery, now: Date, reason: string, letter: (source: DeadLetterSource) => DeadLetter, consumer: string): Promise<void>;
  pendingCount(): Promise<number>;
}

/** Where the alert's record came from, and its bytes unchanged (for `replay`). */
export interface DeadLetterSource {
  readonly messageKey: string | null;
  readonly correlationId: string;
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: string;
  readonly raw: Buffer;
}

export function openDeliveryQueue(pool: DatabasePool): DeliveryQueue {
  return {
    async claimDue(now, limit, leaseMs) {
      const rows = await pool.any(sql.type(claimedRow)`
        UPDATE notifier_deliveries AS d
        SET attempts = d.attempts + 1, next_attempt_at = ${sql.timestamp(new Date(now.getTime() + leaseMs))}
        FROM (
          SELECT alert_id, url FROM notifier_deliveries
          WHERE state = 'pending' AND next_attempt_at <= ${sql.timestamp(now)}
          ORDER BY next_attempt_at, created_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        ) AS due
        WHERE d.alert_id = due.alert_id AND d.url = due.url
        RETURNING d.alert_id, d.url, d.message, d.attempts`);
      return rows.map((row) => ({ alertId: row.alert_id, url: row.url, message: row.message, attempt: row.attempts }));
    },
    async markDelivered(delivery, now) {
      await pool.query(sql.unsafe`
        UPDATE notifier_deliveries SET state = 'delivered', finished_at = ${sql.timestamp(now)}, last_error = NULL
        WHERE alert_id = ${delivery.alertId} AND url = ${delivery.url} AND state = 'pending'`);
    },
    async scheduleRetry(delivery, now, delayMs, error) {
      await pool.query(sql.unsafe`
        UPDATE notifier_deliveries SET next_attempt_at = ${sql.timestamp(new Date(now.getTime() + delayMs))}, last_error = ${error.slice(0, 2_000)}
        WHERE alert_id = ${delivery.alertId} AND url = ${delivery.url} AND state = 'pending'`);
    },
    async deadLetter(delivery, now, reason, letter, consumer) {
      await pool.transaction(async (transaction) => {
        const row = await transaction.maybeOne(sql.type(deadLetterRow)`
          UPDATE notifier_deliveries SET state = 'dead_lettered', finished_at = ${sql.timestamp(now)}, last_error = ${reason.slice(0, 2_000)}
          WHERE alert_id = ${delivery.alertId} AND url = ${delivery.url} AND state = 'pending'
          RETURNING message_key, correlation_id, source_topic, source_partition, source_offset, encode(raw, 'hex') AS raw_hex`);
        // Another instance finished it meanwhile (its lease ended while this one still waited).
        if (row === null) return;
        const source: DeadLetterSource = {
          messageKey: row.message_key,
          correlationId: row.correlation_id,
          sourceTopic: row.source_topic,
          sourcePartition: row.source_partition,
          sourceOffset: row.source_offset,
          raw: Buffer.from(row.raw_hex, 'hex'),
        };
        await insertDeadLetters(transaction, [letter(source)]);
        await transaction.query(sql.unsafe`
          DELETE FROM processed_messages WHERE consumer = ${consumer} AND message_id = ${delivery.alertId}`);
      });
    },
    async pendingCount() {
      const row = await pool.one(sql.type(countRow)`SELECT count(*)::int AS count FROM notifier_deliveries WHERE state = 'pending'`);
      return row.count;
    },
  };
}
