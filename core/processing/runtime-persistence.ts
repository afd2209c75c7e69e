// The runtime's own writes — inbox claims, outbox records, dead letters, released claims — behind
// one small interface, so the chunk-apply code (chunk-apply.ts) is the same over PostgreSQL in
// production and over the in-memory implementation the test driver uses
// (memory-runtime-persistence.ts). Both keep the contract the exactly-once design rests on: a claim,
// the processor's effects and the outgoing records commit together or not at all.
import type { DeadLetter, OutboxRecord } from './outbox.ts';

export interface InboxClaim {
  readonly messageId: string;
  readonly topic: string;
}

export interface RuntimeWrites {
  /**
   * Claims the ids for `consumer`; returns the ids this transaction claimed. An id claimed by a
   * committed transaction (or, in PostgreSQL, by a concurrent one, once it commits) is not returned.
   */
  claim(consumer: string, claims: readonly InboxClaim[]): Promise<ReadonlySet<string>>;
  /** Frees claims of records that were not applied (rejected), so `replay` can bring them back. */
  releaseClaims(consumer: string, messageIds: readonly string[]): Promise<void>;
  insertOutboxRecords(records: readonly OutboxRecord[]): Promise<void>;
  insertDeadLetters(letters: readonly DeadLetter[]): Promise<void>;
}

export interface RuntimePersistence<Transaction> {
  /** Runs `work` in one transaction: committed when it resolves, rolled back whole when it throws. */
  transaction<T>(work: (writes: RuntimeWrites, transaction: Transaction) => Promise<T>): Promise<T>;
}
