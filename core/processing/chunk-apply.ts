// Applying one chunk of consumed records — the heart of the runtime, shared by the Kafka batch
// consumer (batch-consumer.ts) and the test driver (test-driver.ts): decode → claim the records'
// business ids in the inbox → run the processor's handler → write its outgoing records (outbox)
// and its dead letters, all in ONE transaction of the runtime's persistence.
//
// Why this is exactly once in effect (the caller commits the offsets only after this resolves):
// - The inbox claim is written first, in the same transaction as the effect. The persistence hands
//   back only ids no committed or concurrent transaction has claimed, so a second instance working
//   on the same record after a rebalance gets nothing to apply. Business ids, never offsets, decide
//   what has been applied: a re-delivered chunk (a crash before the offset commit, an offset reset,
//   a record produced again) is dropped by the inbox.
// - Outgoing records go to the outbox in that transaction, published later by the relay.
// - A record that cannot be decoded, or that the handler rejects, becomes a dead letter (through
//   the outbox, in the same transaction) with the reason in headers: never a stuck partition. A
//   rejected record's claim is released in that transaction, so `replay` can apply it later.
// - A chunk whose transaction fails with a non-retriable error (PostgreSQL refuses a value, a
//   statement it cannot take) is bisected (poison-isolation.ts): each part is applied in a fresh
//   transaction, so every good record commits in exactly one of them (its inbox claim with it), and
//   each record that fails alone is dead-lettered as poison; its claim was rolled back with the
//   failed transaction, so `replay` applies it once the cause is fixed.
//   An outage (retriable) is waited out in place and never dead-lettered; an InvariantViolation,
//   TypeError or ReferenceError (a bug of ours) is thrown to the caller instead of being skipped.
import { Counter } from 'prom-client';
import type { IHeaders } from 'kafkajs';
import { correlationIdHeader, headerText } from '../kafka/kafka-client.ts';
import type { Logger } from '../logger.ts';
import type { MetricsRegistry } from '../metrics.ts';
import type { Retry } from '../retry.ts';
import { InvariantViolation, isRetriable, PipelineError, ValidationError } from '../errors.ts';
import { classifyDatabaseError, DatabaseError } from '../../db/errors.ts';
import { deadLetterTopicOf, type ValueSchemaName } from '../../topics/topics.ts';
import type { ConsumedRecord, IdentifiedRecord, Subscription, ValueDecoder } from './consumed-record.ts';
import type { DeadLetter, OutboxRecord } from './outbox.ts';
import { applyIsolatingPoison, type ApplyOutcome } from './poison-isolation.ts';
import type { HandlerContext, Processor } from './processor.ts';
import type { RuntimePersistence } from './runtime-persistence.ts';

/** A consumed message as the runtime reads it (kafkajs' KafkaMessage has this shape). */
export interface IncomingMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
}

/** A chunk after decoding: the records to apply and the letters of those that could not be decoded. */
export interface DecodedChunk<S extends ValueSchemaName> {
  readonly records: readonly ConsumedRecord<S>[];
  readonly letters: readonly DeadLetter[];
}

export interface ChunkApplierOptions<S extends ValueSchemaName, Store, Result, Transaction> {
  /** Consumer group and inbox namespace; one per processor. */
  name: string;
  processor: Processor<S, Store, Result, Transaction>;
  persistence: RuntimePersistence<Transaction>;
  decoder: ValueDecoder;
  now: () => Date;
  log: Logger;
  metrics: MetricsRegistry;
  /** Retries a transaction that failed on an outage; without one an outage is thrown at once. */
  retry?: Retry;
}

export interface ChunkApplier<S extends ValueSchemaName, Result> {
  decode(topic: string, partition: number, messages: readonly IncomingMessage[]): Promise<DecodedChunk<S>>;
  /** Applies the chunk; resolves with the results of the transactions that committed, in order. */
  apply(chunk: DecodedChunk<S>): Promise<readonly Result[]>;
}

export function isOutage(error: unknown): boolean {
  return isRetriable(error) || classifyDatabaseError(error).retriable;
}

export function isBugOfOurs(error: unknown): boolean {
  return error instanceof InvariantViolation || error instanceof TypeError || error instanceof ReferenceError;
}

function deadLetterFrom(topic: string, partition: number, message: IncomingMessage, reason: string, rule: string, consumer: string): DeadLetter {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const text = Array.isArray(value) ? value[0]?.toString() : value?.toString();
    if (text !== undefined) headers[name] = text;
  }
  return {
    topic: deadLetterTopicOf(topic),
    key: message.key?.toString() ?? null,
    payload: message.value,
    correlationId: headerText(message.headers, correlationIdHeader) ?? `${topic}/${partition}/${message.offset}`,
    headers: {
      ...headers,
      'dlq-reason': reason.slice(0, 2_000),
      'dlq-rule': rule,
      'dlq-consumer': consumer,
      'dlq-original-topic': topic,
      'dlq-original-partition': String(partition),
      'dlq-original-offset': message.offset,
    },
  };
}

/** A consumed record's dead letter: its bytes unchanged (so `replay` can put it back), why, and where it came from. */
function letterOf(record: IdentifiedRecord, consumer: string, why: Readonly<Record<string, string>>): DeadLetter {
  return {
    topic: deadLetterTopicOf(record.topic),
    key: record.key,
    payload: record.raw,
    correlationId: record.correlationId,
    headers: {
      ...why,
      'dlq-consumer': consumer,
      'dlq-original-topic': record.topic,
      'dlq-original-partition': String(record.partition),
      'dlq-original-offset': record.offset,
      'dlq-message-id': record.messageId,
    },
  };
}

function rejectionLetterOf(record: IdentifiedRecord, field: string, rule: string, reason: string, consumer: string): DeadLetter {
  return letterOf(record, consumer, { 'dlq-reason': reason, 'dlq-rule': rule, 'dlq-field': field });
}

/** The dead letter of a record no transaction could apply, with what PostgreSQL (or the code) said. */
function poisonLetterOf(record: IdentifiedRecord, error: unknown, consumer: string): DeadLetter {
  const classified = error instanceof PipelineError ? error : classifyDatabaseError(error);
  const sqlState = classified instanceof DatabaseError ? classified.details.sqlState : undefined;
  return letterOf(record, consumer, {
    'dlq-reason': classified.message.slice(0, 2_000),
    'dlq-rule': 'applicable',
    'dlq-error-class': classified.name,
    ...(sqlState === undefined ? {} : { 'dlq-sqlstate': sqlState }),
  });
}

/** Whether the handler ran in a transaction (it does not when every record was a duplicate). */
type Handled<Result> = { readonly handled: false } | { readonly handled: true; readonly result: Result };

/**
 * A transaction's consumed-record counts by topic and outcome: one counter increment per pair
 * instead of one per record (a router chunk holds thousands of records).
 */
class RecordCounts {
  private readonly byKey = new Map<string, { readonly topic: string; readonly outcome: string; count: number }>();

  add(topic: string, outcome: string, count: number): void {
    const key = `${topic}\u0000${outcome}`;
    const entry = this.byKey.get(key);
    if (entry === undefined) this.byKey.set(key, { topic, outcome, count });
    else entry.count += count;
  }

  entries(): Iterable<{ readonly topic: string; readonly outcome: string; readonly count: number }> {
    return this.byKey.values();
  }
}

function byMessageId(left: IdentifiedRecord, right: IdentifiedRecord): number {
  return left.messageId < right.messageId ? -1 : left.messageId > right.messageId ? 1 : 0;
}

export function createChunkApplier<S extends ValueSchemaName, Store, Result, Transaction>(
  options: ChunkApplierOptions<S, Store, Result, Transaction>,
): ChunkApplier<S, Result> {
  const { name, processor, persistence, log } = options;
  const retry: Retry = options.retry ?? ((operation) => operation(1));
  const subscriptionByTopic = new Map<string, Subscription<S>>(processor.subscriptions.map((subscription) => [subscription.topic, subscription]));
  const processed = new Counter({ name: 'consumer_records_total', help: 'Consumed records by outcome', labelNames: ['consumer', 'topic', 'outcome'] as const, registers: [options.metrics] });
  const poisonRecords = new Counter({ name: 'consumer_poison_records_total', help: 'Records no transaction could apply, dead-lettered as poison', labelNames: ['consumer', 'topic'] as const, registers: [options.metrics] });

  async function decodeOne(topic: string, partition: number, message: IncomingMessage): Promise<ConsumedRecord<S> | DeadLetter> {
    const subscription = subscriptionByTopic.get(topic);
    if (subscription === undefined) return deadLetterFrom(topic, partition, message, `no subscription for topic ${topic}`, 'subscribed-topic', name);
    if (message.value === null) return deadLetterFrom(topic, partition, message, 'record has no value (tombstone)', 'value-present', name);
    const position = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString() ?? null,
      correlationId: headerText(message.headers, correlationIdHeader) ?? `${topic}/${partition}/${message.offset}`,
      raw: message.value,
    };
    try {
      return await subscription.decode(options.decoder, position, message.value);
    } catch (error) {
      if (isRetriable(error)) throw error; // the registry is down: wait, do not dead-letter
      const rule = error instanceof ValidationError ? error.rule : 'decodable';
      const reason = error instanceof Error ? error.message : String(error);
      return deadLetterFrom(topic, partition, message, reason, rule, name);
    }
  }

  /** One transaction: claims, the handler's effects, its outgoing records and the dead letters. Retried while it fails on an outage. */
  async function applyRecords(decoded: readonly ConsumedRecord<S>[], letters: readonly DeadLetter[]): Promise<Handled<Result>> {
    const { outcome, counts } = await retry(() =>
      persistence.transaction(async (writes, transaction) => {
        // Claimed in sorted order: two instances claiming overlapping ids never deadlock each other.
        const unique = new Map<string, ConsumedRecord<S>>();
        for (const record of [...decoded].sort(byMessageId)) if (!unique.has(record.messageId)) unique.set(record.messageId, record);
        const claimedIds = new Set(await writes.claim(name, [...unique.values()].map((record) => ({ messageId: record.messageId, topic: record.topic }))));
        // Handed over in consumed (offset) order, not the claims' sorted order: the events of one
        // command share a key and must be applied in the order they were written (a FINISHED
        // sorted before its STATUS_CHANGED would make the latter look late and be ignored).
        const fresh = decoded.filter((record) => claimedIds.delete(record.messageId));
        const outgoing: OutboxRecord[] = [];
        const rejected: DeadLetter[] = [...letters];
        const rejectedIds: string[] = [];
        const context: HandlerContext<Store> = {
          store: processor.openStore(transaction),
          now: options.now(),
          emit: (record) => outgoing.push(record),
          reject: (record, field, rule, reason) => {
            rejectedIds.push(record.messageId);
            rejected.push(rejectionLetterOf(record, field, rule, reason, name));
          },
        };
        const outcome: Handled<Result> = fresh.length > 0 ? { handled: true, result: await processor.handle(fresh, context) } : { handled: false };
        await writes.insertOutboxRecords(outgoing);
        await writes.insertDeadLetters(rejected);
        // A rejected record was not applied: its claim is released so `replay` can bring it back
        // once the cause is fixed, instead of the inbox dropping it as already done.
        await writes.releaseClaims(name, rejectedIds);
        const rejectedSet = new Set(rejectedIds);
        const counts = new RecordCounts();
        for (const record of fresh) counts.add(record.topic, rejectedSet.has(record.messageId) ? 'rejected' : 'applied', 1);
        counts.add('any', 'duplicate', decoded.length - fresh.length);
        counts.add('any', 'dead-lettered', rejected.length);
        return { outcome, counts };
      }),
    );
    // Counted once the transaction has committed, so a transaction retried on an outage counts once.
    for (const { topic, outcome: counted, count } of counts.entries()) processed.inc({ consumer: name, topic, outcome: counted }, count);
    return outcome;
  }

  /**
   * The undecodable records' letters ride with the first transaction that commits, so they are
   * written once. A chunk that fails for good is bisected; its poison records are dead-lettered.
   */
  async function apply(chunk: DecodedChunk<S>): Promise<readonly Result[]> {
    let lettersPending = chunk.letters;
    const results: Result[] = [];
    const applyGroup = async (records: readonly ConsumedRecord<S>[]): Promise<ApplyOutcome<unknown>> => {
      try {
        const outcome = await applyRecords(records, lettersPending);
        lettersPending = [];
        if (outcome.handled) results.push(outcome.result);
        return { ok: true };
      } catch (error) {
        // An outage past the retry's budget, or a bug of ours: stop here and let the caller
        // restart on the same chunk. Nothing of this attempt committed. A TypeError or a
        // ReferenceError is code, not data: dead-lettering on it would empty a topic into its
        // dead-letter topic after a bad deploy.
        if (isOutage(error) || isBugOfOurs(error)) throw error;
        return { ok: false, error };
      }
    };
    const { poison } = await applyIsolatingPoison(chunk.records, applyGroup);
    if (poison.length > 0 || lettersPending.length > 0) {
      const letters = [...lettersPending, ...poison.map(({ record, error }) => poisonLetterOf(record, error, name))];
      // No claim to release, unlike the reject path: a poison record's claim was rolled back with
      // the transaction that failed on it, so `replay` finds its id free. Deleting claims by id here
      // would be wrong: a corrected copy with the same business id later in the chunk may have
      // committed its claim in another part.
      await retry(() => persistence.transaction((writes) => writes.insertDeadLetters(letters)));
      processed.inc({ consumer: name, topic: 'any', outcome: 'dead-lettered' }, letters.length);
    }
    for (const { record, error } of poison) {
      const letter = poisonLetterOf(record, error, name);
      poisonRecords.inc({ consumer: name, topic: record.topic });
      processed.inc({ consumer: name, topic: record.topic, outcome: 'poison' });
      // A poison record waits for a person (fix the cause, then `replay`): raised as an alert.
      log.error(
        { alert: true, consumer: name, topic: record.topic, partition: record.partition, offset: record.offset, messageId: record.messageId, reason: letter.headers['dlq-reason'], errorClass: letter.headers['dlq-error-class'], sqlState: letter.headers['dlq-sqlstate'] },
        `poison record dead-lettered: consumer ${name}, topic ${record.topic}, partition ${record.partition}, offset ${record.offset}: ${letter.headers['dlq-reason'] ?? ''}`,
      );
    }
    return results;
  }

  return {
    async decode(topic, partition, messages) {
      const records: ConsumedRecord<S>[] = [];
      const letters: DeadLetter[] = [];
      for (const message of messages) {
        const decoded = await decodeOne(topic, partition, message);
        if ('raw' in decoded) records.push(decoded);
        else letters.push(decoded);
      }
      return { records, letters };
    },
    apply,
  };
}
