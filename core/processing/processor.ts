// What a consuming processor gives the runtime: its subscriptions, a factory of its own store over
// the chunk's transaction, a handler, and an after-commit hook.
//
// The handler sees only what the runtime hands it (HandlerContext): its store, the clock's time,
// `emit` (an outgoing record, written to the outbox in the chunk's transaction) and `reject` (a
// dead letter, in the same transaction, with its inbox claim released). It returns a result; the
// runtime passes the results of the chunk's committed transactions to `afterCommit` once the
// transaction and the offsets are committed. Metrics and "done" logs belong there: a handler may
// run again for the same records (an outage retried, a chunk bisected around a poison record), and
// only the committed run must count.
import type { DatabaseTransactionConnection } from 'slonik';
import type { ValueSchemaName } from '../../topics/topics.ts';
import type { ConsumedRecord, IdentifiedRecord, Subscription } from './consumed-record.ts';
import type { OutboxRecord } from './outbox.ts';

export interface HandlerContext<Store> {
  /** The processor's store over this chunk's transaction: everything it writes commits with the inbox claims. */
  readonly store: Store;
  /** The clock's time when the transaction began: the one timestamp of everything the chunk writes. */
  readonly now: Date;
  emit(record: OutboxRecord): void;
  reject(record: IdentifiedRecord, field: string, rule: string, reason: string): void;
}

export type ChunkHandler<S extends ValueSchemaName, Store, Result> = (records: readonly ConsumedRecord<S>[], context: HandlerContext<Store>) => Promise<Result>;

export interface Processor<S extends ValueSchemaName, Store, Result, Transaction = DatabaseTransactionConnection> {
  readonly subscriptions: readonly Subscription<S>[];
  /** Builds the handler's store over the runtime's transaction (slonik in production). */
  readonly openStore: (transaction: Transaction) => Store;
  readonly handle: ChunkHandler<S, Store, Result>;
  /**
   * Runs once per committed chunk, after its transaction(s) and its offsets committed, with the
   * results of the transactions that committed (one, or one per part of a bisected chunk; none when
   * no record was fresh). Never for an attempt that rolled back. A throw is logged, not retried.
   */
  readonly afterCommit?: (results: readonly Result[]) => void;
}
