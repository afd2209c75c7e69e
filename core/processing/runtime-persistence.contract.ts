// The contract of the runtime's persistence (runtime-persistence.ts), written once and run against
// both implementations: the in-memory one (runtime-persistence.test.ts, with the unit tests) and
// PostgreSQL (runtime-persistence.int.test.ts, on the test stack's database). It is what the test
// driver's faithfulness rests on: what the driver proves over memory holds over PostgreSQL.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { topicNames } from '../../topics/topics.ts';
import { paymentReceivedRecord } from '../../test/support/payment-record.ts';
import type { DeadLetter, OutboxRecord } from './outbox.ts';
import type { RuntimePersistence } from './runtime-persistence.ts';

export interface PersistenceUnderTest {
  readonly persistence: RuntimePersistence<unknown>;
  /** The committed claims of `consumer`. */
  readonly claimsOf: (consumer: string) => Promise<ReadonlySet<string>>;
  /** Committed outbox rows (records and dead letters) with this correlation id. */
  readonly outboxCount: (correlationId: string) => Promise<number>;
}

class Rollback extends Error {}

function recordOf(correlationId: string): OutboxRecord<'payment-received'> {
  return { topic: topicNames.paymentsReceived, schemaName: 'payment-received', key: '7', value: paymentReceivedRecord(randomUUID(), '7'), correlationId };
}

function letterOf(correlationId: string): DeadLetter {
  return { topic: `${topicNames.paymentsReceived}.dlq`, key: null, payload: null, correlationId, headers: { 'dlq-rule': 'value-present' } };
}

export function describeRuntimePersistenceContract(label: string, open: () => PersistenceUnderTest): void {
  describe(`runtime persistence contract: ${label}`, () => {
    it('claims an id once: a second claim, in the same or a later transaction, gets nothing', async () => {
      const { persistence, claimsOf } = open();
      const consumer = `contract-${randomUUID()}`;
      const first = await persistence.transaction((writes) => writes.claim(consumer, [{ messageId: 'a', topic: 't' }, { messageId: 'b', topic: 't' }]));
      const second = await persistence.transaction((writes) => writes.claim(consumer, [{ messageId: 'b', topic: 't' }, { messageId: 'c', topic: 't' }]));
      expect(first).toEqual(new Set(['a', 'b']));
      expect(second).toEqual(new Set(['c']));
      expect(await claimsOf(consumer)).toEqual(new Set(['a', 'b', 'c']));
      // Claims are per consumer: another group applies the same id for itself.
      const other = await persistence.transaction((writes) => writes.claim(`${consumer}-other`, [{ messageId: 'a', topic: 't' }]));
      expect(other).toEqual(new Set(['a']));
    });

    it('keeps nothing of a transaction that throws: claims, records and dead letters roll back together', async () => {
      const { persistence, claimsOf, outboxCount } = open();
      const consumer = `contract-${randomUUID()}`;
      const correlationId = randomUUID();
      const attempt = persistence.transaction(async (writes) => {
        await writes.claim(consumer, [{ messageId: 'a', topic: 't' }]);
        await writes.insertOutboxRecords([recordOf(correlationId)]);
        await writes.insertDeadLetters([letterOf(correlationId)]);
        throw new Rollback('rolled back on purpose');
      });
      await expect(attempt).rejects.toBeInstanceOf(Rollback);
      expect(await claimsOf(consumer)).toEqual(new Set());
      expect(await outboxCount(correlationId)).toBe(0);
    });

    it('commits records and dead letters with the claims', async () => {
      const { persistence, outboxCount } = open();
      const consumer = `contract-${randomUUID()}`;
      const correlationId = randomUUID();
      await persistence.transaction(async (writes) => {
        await writes.claim(consumer, [{ messageId: 'a', topic: 't' }]);
        await writes.insertOutboxRecords([recordOf(correlationId), recordOf(correlationId)]);
        await writes.insertDeadLetters([letterOf(correlationId)]);
      });
      expect(await outboxCount(correlationId)).toBe(3);
    });

    it('releases a claim so the id can be claimed again', async () => {
      const { persistence, claimsOf } = open();
      const consumer = `contract-${randomUUID()}`;
      await persistence.transaction(async (writes) => {
        await writes.claim(consumer, [{ messageId: 'a', topic: 't' }, { messageId: 'b', topic: 't' }]);
        await writes.releaseClaims(consumer, ['a']);
      });
      expect(await claimsOf(consumer)).toEqual(new Set(['b']));
      const again = await persistence.transaction((writes) => writes.claim(consumer, [{ messageId: 'a', topic: 't' }]));
      expect(again).toEqual(new Set(['a']));
    });
  });
}
