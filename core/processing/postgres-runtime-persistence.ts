// The runtime's writes in PostgreSQL (production): the inbox is `processed_messages`, the outbox
// and the dead letters are rows of `outbox` (outbox.ts), all in the slonik transaction the
// processor's store also writes in.
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { insertDeadLetters, insertOutboxRecords } from './outbox.ts';
import type { RuntimePersistence, RuntimeWrites } from './runtime-persistence.ts';

const claimedRow = z.object({ message_id: z.string() });

export function postgresRuntimeWrites(transaction: DatabaseTransactionConnection): RuntimeWrites {
  return {
    async claim(consumer, claims) {
      if (claims.length === 0) return new Set();
      // `INSERT … ON CONFLICT DO NOTHING RETURNING` returns only ids no committed or concurrent
      // transaction has claimed: a second instance on the same record blocks on the row, then gets
      // nothing back.
      const claimed = await transaction.any(sql.type(claimedRow)`
        INSERT INTO processed_messages (consumer, message_id, topic)
        SELECT ${consumer}, id, topic FROM unnest(${sql.array(
          claims.map((claim) => claim.messageId),
          'text',
        )}::text[], ${sql.array(
          claims.map((claim) => claim.topic),
          'text',
        )}::text[]) AS claim(id, topic)
        ON CONFLICT (consumer, message_id) DO NOTHING
        RETURNING message_id
      `);
      return new Set(claimed.map((row) => row.message_id));
    },
    async releaseClaims(consumer, messageIds) {
      if (messageIds.length === 0) return;
      await transaction.query(sql.unsafe`
        DELETE FROM processed_messages WHERE consumer = ${consumer} AND message_id = ANY(${sql.array([...messageIds], 'text')})`);
    },
    insertOutboxRecords: (records) => insertOutboxRecords(transaction, records),
    insertDeadLetters: (letters) => insertDeadLetters(transaction, letters),
  };
}

export function postgresRuntimePersistence(pool: DatabasePool): RuntimePersistence<DatabaseTransactionConnection> {
  return {
    transaction: (work) => pool.transaction((transaction) => work(postgresRuntimeWrites(transaction), transaction)),
  };
}
