// A small processor for the runtime's own tests (test-driver.test.ts and the persistence contract):
// it records payments in an in-memory store that rolls back with the driver's transaction, emits
// one record per payment it applies, and misbehaves on purpose by client id — rejects, fails like
// a value PostgreSQL refuses (poison), breaks an invariant, or waits at a gate.
import { InvariantViolation } from '../errors.ts';
import { topicNames } from '../../topics/topics.ts';
import { subscribe } from './consumed-record.ts';
import type { MemoryTransaction } from './memory-runtime-persistence.ts';
import type { Processor } from './processor.ts';

export const echoTopic = 'payments-echo';

/** Client ids the processor treats specially. */
export const misbehaviour = { reject: 'reject', poison: 'poison', bug: 'bug', gated: 'gated' } as const;

export interface PaymentBook {
  /** How often each payment was applied (committed). */
  readonly applied: Map<string, number>;
  /** While true, a `reject` client's payment is dead-lettered; set false to "fix the cause". */
  rejecting: boolean;
  /** While set, a `gated` client's payment waits for it. */
  gate: Promise<void> | undefined;
}

export function createPaymentBook(): PaymentBook {
  return { applied: new Map(), rejecting: true, gate: undefined };
}

interface BookStore {
  apply(paymentId: string): void;
}

export type TestProcessor = Processor<'payment-received', BookStore, readonly string[], MemoryTransaction>;

export function createTestProcessor(book: PaymentBook, afterCommit?: (results: readonly (readonly string[])[]) => void): TestProcessor {
  return {
    subscriptions: [subscribe(topicNames.paymentsReceived, 'payment-received', (value) => value.payment_id)],
    openStore: (transaction) => ({
      apply(paymentId) {
        book.applied.set(paymentId, (book.applied.get(paymentId) ?? 0) + 1);
        transaction.onRollback(() => {
          const count = (book.applied.get(paymentId) ?? 1) - 1;
          if (count === 0) book.applied.delete(paymentId);
          else book.applied.set(paymentId, count);
        });
      },
    }),
    async handle(records, context) {
      const applied: string[] = [];
      for (const record of records) {
        const payment = record.value;
        if (payment.client_id === misbehaviour.reject && book.rejecting) {
          context.reject(record, 'client_id', 'accepted-client', `client ${payment.client_id} is refused`);
          continue;
        }
        if (payment.client_id === misbehaviour.poison) throw new Error(`value refused for ${payment.payment_id}`);
        if (payment.client_id === misbehaviour.bug) throw new InvariantViolation('a test invariant holds');
        if (payment.client_id === misbehaviour.gated && book.gate !== undefined) await book.gate;
        context.store.apply(payment.payment_id);
        context.emit({ topic: echoTopic, schemaName: 'payment-received', key: payment.client_id, value: payment, correlationId: record.correlationId });
        applied.push(payment.payment_id);
      }
      return applied;
    },
    ...(afterCommit === undefined ? {} : { afterCommit }),
  };
}
