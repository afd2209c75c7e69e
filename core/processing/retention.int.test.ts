// Proves on the real database that the retention job bounds the inbox and the outbox: old inbox
// rows of a topic Kafka deletes records from, and old published outbox rows, are deleted in bounded
// batches, while recent rows, inbox rows of topics kept forever and unpublished outbox rows stay;
// and that a process refuses an INBOX_RETENTION too short to keep deduplication correct.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createLogger } from '../logger.ts';
import { PipelineError } from '../errors.ts';
import { topicNames } from '../../topics/topics.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { createRetention } from './retention.ts';

const dayMs = 24 * 60 * 60 * 1000;
const log = createLogger({ name: 'retention-test', level: 'silent' });
const now = new Date('2026-12-01T00:00:00Z');
let database: DatabasePool;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database?.end();
});

function retentionFor(consumer: string, limits: { deleteBatchSizeMax?: number; deleteBatchesPerPassMax?: number } = {}) {
  return createRetention({ pool: database, log, metrics: new Registry(), consumer, inboxRetentionMs: 60 * dayMs, outboxRetentionMs: 7 * dayMs, now: () => now, ...limits });
}

async function claim(consumer: string, messageId: string, topic: string, ageMs: number): Promise<void> {
  await database.query(sql.unsafe`
    INSERT INTO processed_messages (consumer, message_id, topic, processed_at)
    VALUES (${consumer}, ${messageId}, ${topic}, ${sql.timestamp(new Date(now.getTime() - ageMs))})`);
}

async function claimedIds(consumer: string): Promise<string[]> {
  const rows = await database.anyFirst(sql.type(z.object({ message_id: z.string() }))`
    SELECT message_id FROM processed_messages WHERE consumer = ${consumer} ORDER BY message_id`);
  return [...rows];
}

async function outboxRow(correlationId: string, publishedAgeMs: number | null): Promise<bigint> {
  return database.oneFirst(sql.type(z.object({ id: z.bigint() }))`
    INSERT INTO outbox (topic, message_key, schema_name, payload, headers, correlation_id, created_at, published_at)
    VALUES (${`${topicNames.swapEvents}.dlq`}, 'retention-test', NULL, NULL, '{}'::jsonb, ${correlationId}, ${sql.timestamp(new Date(now.getTime() - 30 * dayMs))},
            ${publishedAgeMs === null ? null : sql.timestamp(new Date(now.getTime() - publishedAgeMs))})
    RETURNING id`);
}

async function outboxIdsOf(correlationId: string): Promise<bigint[]> {
  const rows = await database.anyFirst(sql.type(z.object({ id: z.bigint() }))`SELECT id FROM outbox WHERE correlation_id = ${correlationId} ORDER BY id`);
  return [...rows];
}

describe('retention', () => {
  it('deletes old inbox rows of finite topics in bounded batches and keeps recent ones and those of topics kept forever', async () => {
    const consumer = `retention-test-${randomUUID()}`;
    const other = `retention-test-other-${randomUUID()}`;
    for (let index = 0; index < 5; index += 1) await claim(consumer, `old-${index}`, topicNames.swapEvents, 61 * dayMs);
    await claim(consumer, 'recent', topicNames.swapEvents, 59 * dayMs);
    // payments-received keeps records forever: its inbox rows are what keep a replay harmless.
    await claim(consumer, 'forever', topicNames.paymentsReceived, 400 * dayMs);
    // Another consumer's rows belong to its own process.
    await claim(other, 'old-other', topicNames.swapEvents, 61 * dayMs);

    // Two rows per statement and two statements per pass: a backlog is worked off over passes.
    const retention = retentionFor(consumer, { deleteBatchSizeMax: 2, deleteBatchesPerPassMax: 2 });
    expect((await retention.pruneOnce()).inboxRowsDeleted).toBe(4);
    expect((await retention.pruneOnce()).inboxRowsDeleted).toBe(1);
    expect((await retention.pruneOnce()).inboxRowsDeleted).toBe(0);
    expect(await claimedIds(consumer)).toEqual(['forever', 'recent']);
    expect(await claimedIds(other)).toEqual(['old-other']);
    await database.query(sql.unsafe`DELETE FROM processed_messages WHERE consumer = ANY(${sql.array([consumer, other], 'text')})`);
  });

  it('deletes outbox rows published longer ago than the window, never an unpublished one', async () => {
    const correlationId = `retention-test-${randomUUID()}`;
    const oldPublished = [await outboxRow(correlationId, 8 * dayMs), await outboxRow(correlationId, 20 * dayMs)];
    const recentPublished = await outboxRow(correlationId, 6 * dayMs);
    const unpublished = await outboxRow(correlationId, null);
    try {
      const before = await outboxIdsOf(correlationId);
      expect(before).toHaveLength(4);
      const pass = await retentionFor(`retention-test-${randomUUID()}`).pruneOnce();
      expect(pass.outboxRowsDeleted).toBeGreaterThanOrEqual(oldPublished.length);
      expect(await outboxIdsOf(correlationId)).toEqual([recentPublished, unpublished].sort((left, right) => (left < right ? -1 : 1)));
    } finally {
      // Leave nothing for the next file's relay to publish.
      await database.query(sql.unsafe`DELETE FROM outbox WHERE correlation_id = ${correlationId}`);
    }
  });

  it('refuses an inbox window that a 30-day topic could outlive', () => {
    expect(() => createRetention({ pool: database, log, metrics: new Registry(), consumer: 'retention-test', inboxRetentionMs: 30 * dayMs, outboxRetentionMs: dayMs })).toThrow(PipelineError);
    expect(() => createRetention({ pool: database, log, metrics: new Registry(), consumer: 'retention-test', inboxRetentionMs: 30 * dayMs, outboxRetentionMs: dayMs })).toThrow(/INBOX_RETENTION/);
  });
});
