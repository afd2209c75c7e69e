// The one processor runtime: consume a batch → decode → claim the records' business ids in the
// inbox → run the processor's logic → apply its effects, its outgoing records (outbox) and its
// dead letters in ONE PostgreSQL transaction → commit the offsets.
//
// Why this is exactly once in effect (kafkajs transactions cover Kafka→Kafka only, and its
// sendOffsets has no consumer-group fencing, so the guarantee cannot live in Kafka):
// - The inbox row (consumer, business id) is inserted first, in the same transaction as the
//   effect. `INSERT … ON CONFLICT DO NOTHING RETURNING` hands the handler only ids no committed or
//   concurrent transaction has claimed: a second instance working on the same record after a
//   rebalance blocks on the row, then gets nothing back.
// - Offsets are committed after the transaction. SIGKILL between the two re-delivers the batch and
//   the inbox drops it; an operator resetting offsets or re-producing a record is the same case.
//   Business ids, never offsets, decide what has been applied.
// - Outgoing records go to the outbox in that transaction, published later by the relay.
// - A record that cannot be decoded, or that the handler rejects, becomes a dead letter (through
//   the outbox, in the same transaction) with the reason in headers: never a stuck partition.
// - A chunk whose transaction fails with a non-retriable error (PostgreSQL refuses a value, a
//   statement it cannot take) is bisected (poison-isolation.ts): each part is applied in a fresh
//   transaction, so every good record commits in exactly one of them (its inbox claim with it), and
//   each record that fails alone is dead-lettered as poison; its inbox claim was rolled back with
//   the failed transaction, so `replay` applies it once the cause is fixed. Then the offsets move on.
//   An outage (retriable) is waited out in place and never dead-lettered; an InvariantViolation,
//   TypeError or ReferenceError (a bug of ours) stops the partition instead of being skipped over.
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { Counter, Histogram } from 'prom-client';
import type { Consumer, EachBatchPayload, KafkaClient, KafkaMessage } from '../kafka/kafka-client.ts';
import { correlationIdHeader, headerText } from '../kafka/kafka-client.ts';
import type { Logger } from '../logger.ts';
import type { MetricsRegistry } from '../metrics.ts';
import { createRetry } from '../retry.ts';
import { InvariantViolation, isRetriable, PipelineError, ValidationError } from '../errors.ts';
import { classifyDatabaseError, DatabaseError } from '../../db/errors.ts';
import type { AvroSerde } from '../../schemas/registry.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, type ValueSchemaName } from '../../topics/topics.ts';
import { insertDeadLetters, insertOutboxRecords, type DeadLetter, type OutboxRecord } from './outbox.ts';
import { applyIsolatingPoison, type ApplyOutcome } from './poison-isolation.ts';

export interface Subscription<S extends ValueSchemaName = ValueSchemaName> {
  topic: string;
  schemaName: S;
  /** The business id consumers dedupe on: payment id, command id, event id. */
  messageIdOf: (value: ValueRecordOf<S>) => string;
}

export interface ConsumedRecord<S extends ValueSchemaName = ValueSchemaName> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  messageId: string;
  correlationId: string;
  value: ValueRecordOf<S>;
  /** The record's bytes as consumed, kept for a dead letter that `replay` can put back unchanged. */
  raw: Buffer;
}

export interface BatchContext {
  readonly transaction: DatabaseTransactionConnection;
  readonly now: Date;
  emit(record: OutboxRecord): void;
  reject(record: ConsumedRecord, field: string, rule: string, reason: string): void;
}

export type BatchHandler = (records: readonly ConsumedRecord[], context: BatchContext) => Promise<void>;

export interface BatchConsumerOptions {
  /** Consumer group and inbox namespace; one per processor. */
  name: string;
  kafka: KafkaClient;
  pool: DatabasePool;
  serde: AvroSerde;
  subscriptions: readonly Subscription[];
  handle: BatchHandler;
  log: Logger;
  metrics: MetricsRegistry;
  now?: () => Date;
  /** Records per transaction; a longer batch is cut into chunks with a heartbeat between. */
  chunkSizeMax?: number;
  /** Called after each committed chunk (the accumulator re-evaluates its window here). Must not throw: a throw crashes the consumer. */
  afterCommit?: () => Promise<void>;
  fromBeginning?: boolean;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

export interface RunningBatchConsumer {
  readonly consumer: Consumer;
  /** Fails while the consumer is crashed and not (yet) back in its group: /ready shows it. */
  probe(): Promise<void>;
  stop(): Promise<void>;
}

interface Decoded {
  record: ConsumedRecord;
}

interface Undecodable {
  letter: DeadLetter;
}

function deadLetterFrom(topic: string, partition: number, message: KafkaMessage, reason: string, rule: string, consumer: string): DeadLetter {
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

const claimedRow = z.object({ message_id: z.string() });

function isOutage(error: unknown): boolean {
  return isRetriable(error) || classifyDatabaseError(error).retriable;
}

function isBugOfOurs(error: unknown): boolean {
  return error instanceof InvariantViolation || error instanceof TypeError || error instanceof ReferenceError;
}

/** The dead letter of a record no transaction could apply, with what PostgreSQL (or the code) said. */
function poisonLetterOf(record: ConsumedRecord, error: unknown, consumer: string): DeadLetter {
  const classified = error instanceof PipelineError ? error : classifyDatabaseError(error);
  const sqlState = classified instanceof DatabaseError ? classified.details.sqlState : undefined;
  return {
    topic: deadLetterTopicOf(record.topic),
    key: record.key,
    payload: record.raw,
    correlationId: record.correlationId,
    headers: {
      'dlq-reason': classified.message.slice(0, 2_000),
      'dlq-rule': 'applicable',
      'dlq-error-class': classified.name,
      ...(sqlState === undefined ? {} : { 'dlq-sqlstate': sqlState }),
      'dlq-consumer': consumer,
      'dlq-original-topic': record.topic,
      'dlq-original-partition': String(record.partition),
      'dlq-original-offset': record.offset,
      'dlq-message-id': record.messageId,
    },
  };
}

export async function startBatchConsumer(options: BatchConsumerOptions): Promise<RunningBatchConsumer> {
  const { name, pool, serde, log } = options;
  const now = options.now ?? (() => new Date());
  const chunkSizeMax = options.chunkSizeMax ?? 500;
  const heartbeatIntervalMs = Math.max(1_000, Math.floor(options.sessionTimeoutMs / 5));
  const subscriptionByTopic = new Map(options.subscriptions.map((subscription) => [subscription.topic, subscription]));
  const processed = new Counter({ name: 'consumer_records_total', help: 'Consumed records by outcome', labelNames: ['consumer', 'topic', 'outcome'] as const, registers: [options.metrics] });
  const poisonRecords = new Counter({ name: 'consumer_poison_records_total', help: 'Records no transaction could apply, dead-lettered as poison', labelNames: ['consumer', 'topic'] as const, registers: [options.metrics] });
  const chunkSeconds = new Histogram({ name: 'consumer_chunk_seconds', help: 'Time to apply one chunk in one transaction', labelNames: ['consumer'] as const, registers: [options.metrics] });
  // A dependency outage is waited out in place (heartbeating), so the partition is not handed to
  // another member that would fail the same way.
  const retry = createRetry({
    attemptsMax: 50,
    delayInitialMs: 200,
    delayMaxMs: 5_000,
    totalMs: 120_000,
    shouldRetry: isOutage,
    onRetry: (error, attempt) => log.warn({ err: error, attempt, consumer: name }, 'chunk failed on a dependency; retrying'),
  });

  async function decode(topic: string, partition: number, message: KafkaMessage): Promise<Decoded | Undecodable> {
    const subscription = subscriptionByTopic.get(topic);
    if (subscription === undefined) {
      return { letter: deadLetterFrom(topic, partition, message, `no subscription for topic ${topic}`, 'subscribed-topic', name) };
    }
    if (message.value === null) {
      return { letter: deadLetterFrom(topic, partition, message, 'record has no value (tombstone)', 'value-present', name) };
    }
    try {
      const value = await serde.decodeAs(subscription.schemaName, message.value);
      return {
        record: {
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          messageId: subscription.messageIdOf(value),
          correlationId: headerText(message.headers, correlationIdHeader) ?? `${topic}/${partition}/${message.offset}`,
          value,
          raw: message.value,
        },
      };
    } catch (error) {
      if (isRetriable(error)) throw error; // the registry is down: wait, do not dead-letter
      const rule = error instanceof ValidationError ? error.rule : 'decodable';
      const reason = error instanceof Error ? error.message : String(error);
      return { letter: deadLetterFrom(topic, partition, message, reason, rule, name) };
    }
  }

  /** One transaction: claims, the handler's effects, its outgoing records and the dead letters. Retried while it fails on an outage. */
  async function applyRecords(decoded: readonly ConsumedRecord[], letters: readonly DeadLetter[]): Promise<void> {
    await retry(() =>
      pool.transaction(async (transaction) => {
        const unique = new Map<string, ConsumedRecord>();
        // Claimed in sorted order: two instances claiming overlapping ids never deadlock each other.
        const sorted = [...decoded].sort((left, right) => (left.messageId < right.messageId ? -1 : left.messageId > right.messageId ? 1 : 0));
        for (const record of sorted) if (!unique.has(record.messageId)) unique.set(record.messageId, record);
        let fresh: ConsumedRecord[] = [];
        if (unique.size > 0) {
          const claimed = await transaction.any(sql.type(claimedRow)`
            INSERT INTO processed_messages (consumer, message_id, topic)
            SELECT ${name}, id, topic FROM unnest(${sql.array([...unique.keys()], 'text')}::text[], ${sql.array(
              [...unique.values()].map((record) => record.topic),
              'text',
            )}::text[]) AS claim(id, topic)
            ON CONFLICT (consumer, message_id) DO NOTHING
            RETURNING message_id
          `);
          const claimedIds = new Set(claimed.map((row) => row.message_id));
          // Handed over in consumed (offset) order, not the claims' sorted order: the events of one
          // command share a key and must be applied in the order they were written (a FINISHED
          // sorted before its STATUS_CHANGED would make the latter look late and be ignored).
          fresh = decoded.filter((record) => claimedIds.delete(record.messageId));
        }
        const outgoing: OutboxRecord[] = [];
        const rejected: DeadLetter[] = [...letters];
        const rejectedIds: string[] = [];
        const context: BatchContext = {
          transaction,
          now: now(),
          emit: (record) => outgoing.push(record),
          reject: (record, field, rule, reason) => {
            rejectedIds.push(record.messageId);
            rejected.push({
              topic: deadLetterTopicOf(record.topic),
              key: record.key,
              payload: record.raw,
              correlationId: record.correlationId,
              headers: {
                'dlq-reason': reason,
                'dlq-rule': rule,
                'dlq-field': field,
                'dlq-consumer': name,
                'dlq-original-topic': record.topic,
                'dlq-original-partition': String(record.partition),
                'dlq-original-offset': record.offset,
                'dlq-message-id': record.messageId,
              },
            });
          },
        };
        if (fresh.length > 0) await options.handle(fresh, context);
        await insertOutboxRecords(transaction, outgoing);
        await insertDeadLetters(transaction, rejected);
        if (rejectedIds.length > 0) {
          // A rejected record was not applied: release its claim so `replay` can bring it back
          // once the cause is fixed, instead of the inbox dropping it as already done.
          await transaction.query(sql.unsafe`
            DELETE FROM processed_messages WHERE consumer = ${name} AND message_id = ANY(${sql.array(rejectedIds, 'text')})`);
        }
        const rejectedSet = new Set(rejectedIds);
        for (const record of fresh) processed.inc({ consumer: name, topic: record.topic, outcome: rejectedSet.has(record.messageId) ? 'rejected' : 'applied' });
        processed.inc({ consumer: name, topic: 'any', outcome: 'duplicate' }, decoded.length - fresh.length);
        processed.inc({ consumer: name, topic: 'any', outcome: 'dead-lettered' }, rejected.length);
      }),
    );
  }

  /**
   * The undecodable records' letters ride with the first transaction that commits, so they are
   * written once. A chunk that fails for good is bisected; its poison records are dead-lettered.
   */
  async function applyChunk(decoded: readonly Decoded[], letters: readonly DeadLetter[], heartbeat: () => Promise<void>): Promise<void> {
    const stopTimer = chunkSeconds.startTimer({ consumer: name });
    // A chunk can outlast the session timeout (one conversion of 50,000 payments takes tens of
    // seconds, and bisecting a chunk takes several transactions): without heartbeats meanwhile the
    // coordinator drops the member, the offset commit is refused and the consumer crashes.
    const keeper = setInterval(() => {
      heartbeat().catch((error: unknown) => log.warn({ err: error, consumer: name }, 'heartbeat during a long chunk failed'));
    }, heartbeatIntervalMs);
    try {
      await applyChunkKeptAlive(decoded, letters);
    } finally {
      clearInterval(keeper);
      stopTimer();
    }
  }

  async function applyChunkKeptAlive(decoded: readonly Decoded[], letters: readonly DeadLetter[]): Promise<void> {
    let lettersPending = letters;
    const apply = async (records: readonly ConsumedRecord[]): Promise<ApplyOutcome<unknown>> => {
      try {
        await applyRecords(records, lettersPending);
        lettersPending = [];
        return { ok: true };
      } catch (error) {
        // An outage past the retry's budget, or a bug of ours: stop here and let the consumer
        // restart on the same chunk. Nothing of this attempt committed. A TypeError or a
        // ReferenceError is code, not data: dead-lettering on it would empty a topic into its
        // dead-letter topic after a bad deploy.
        if (isOutage(error) || isBugOfOurs(error)) throw error;
        return { ok: false, error };
      }
    };
    const { poison } = await applyIsolatingPoison(decoded.map(({ record }) => record), apply);
    if (poison.length > 0 || lettersPending.length > 0) {
      await retry(() =>
        pool.transaction(async (transaction) => {
          // No claim to release, unlike the reject path: a poison record's claim was rolled back
          // with the transaction that failed on it, so `replay` finds its id free. Deleting claims
          // by id here would be wrong: a corrected copy with the same business id later in the
          // chunk may have committed its claim in another part.
          await insertDeadLetters(transaction, [...lettersPending, ...poison.map(({ record, error }) => poisonLetterOf(record, error, name))]);
        }),
      );
      processed.inc({ consumer: name, topic: 'any', outcome: 'dead-lettered' }, lettersPending.length + poison.length);
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
  }

  const consumer = options.kafka.consumer({
    groupId: name,
    allowAutoTopicCreation: false,
    sessionTimeout: options.sessionTimeoutMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    maxBytesPerPartition: 1_048_576,
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
  // kafkajs restarts a crashed consumer by itself; until it has joined its group again the process
  // is not ready, so an operator sees a processor that keeps failing instead of a green /ready.
  let crash: string | undefined = 'not joined yet';
  consumer.on(consumer.events.CRASH, (event) => {
    crash = event.payload.error.message;
    log.error({ err: event.payload.error, restart: event.payload.restart, consumer: name }, 'consumer crashed');
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    crash = undefined;
  });
  await consumer.connect();
  for (const subscription of options.subscriptions) {
    await consumer.subscribe({ topic: subscription.topic, fromBeginning: options.fromBeginning ?? true });
  }

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async (payload: EachBatchPayload) => {
      const { batch } = payload;
      for (let start = 0; start < batch.messages.length; start += chunkSizeMax) {
        if (!payload.isRunning() || payload.isStale()) return;
        const messages = batch.messages.slice(start, start + chunkSizeMax);
        const last = messages[messages.length - 1];
        if (last === undefined) return;
        const decoded: Decoded[] = [];
        const letters: DeadLetter[] = [];
        for (const message of messages) {
          const result = await decode(batch.topic, batch.partition, message);
          if ('record' in result) decoded.push(result);
          else letters.push(result.letter);
        }
        await payload.heartbeat();
        await applyChunk(decoded, letters, () => payload.heartbeat());
        // Only now, after the transaction committed, does the group's position move past the chunk.
        payload.resolveOffset(last.offset);
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
        await payload.heartbeat();
        if (options.afterCommit !== undefined) await options.afterCommit();
      }
    },
  });

  return {
    consumer,
    probe: () => (crash === undefined ? Promise.resolve() : Promise.reject(new Error(`consumer ${name}: ${crash}`))),
    async stop() {
      // kafkajs' disconnect stops fetching, waits for the running batch, commits and leaves the group.
      await consumer.disconnect();
    },
  };
}
