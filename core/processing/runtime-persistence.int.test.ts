// The PostgreSQL runtime persistence (production) keeps the same contract as the in-memory one the
// test driver uses (runtime-persistence.contract.ts), on the test stack's database.
import { afterAll, beforeAll } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { openTestDatabase } from '../../test/support/database.ts';
import { postgresRuntimePersistence } from './postgres-runtime-persistence.ts';
import { describeRuntimePersistenceContract } from './runtime-persistence.contract.ts';

let database: DatabasePool;
// The rows the contract writes are the test's own: removed afterwards, so no relay ever publishes
// them and no other test sees them.
const correlationIds: string[] = [];
const consumers: string[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database.query(sql.unsafe`DELETE FROM outbox WHERE correlation_id = ANY(${sql.array(correlationIds, 'text')})`);
  await database.query(sql.unsafe`DELETE FROM processed_messages WHERE consumer = ANY(${sql.array(consumers, 'text')}) OR consumer = ANY(${sql.array(
    consumers.map((consumer) => `${consumer}-other`),
    'text',
  )})`);
  await database.end();
});

describeRuntimePersistenceContract('PostgreSQL', () => ({
  persistence: postgresRuntimePersistence(database),
  async claimsOf(consumer) {
    consumers.push(consumer);
    const ids = await database.anyFirst(sql.type(z.object({ message_id: z.string() }))`
      SELECT message_id FROM processed_messages WHERE consumer = ${consumer}`);
    return new Set(ids);
  },
  outboxCount: (correlationId) => {
    correlationIds.push(correlationId);
    return database.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM outbox WHERE correlation_id = ${correlationId}`);
  },
}));
