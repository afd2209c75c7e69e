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
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { Counter, Histogram } from 'prom-client';
import type { Consumer, EachBatchPayload, KafkaClient, KafkaMessage } from '../kafka/kafka-client.ts';
import { correlationIdHeader, headerText } from '../kafka/kafka-client.ts';
import type { Logger } from '../logger.ts';
import type { MetricsRegistry } from '../metrics.ts';
import { createRetry } from '../retry.ts';
import { isRetriable, ValidationError } from '../errors.ts';
import { classifyDatabaseError } from '../../db/errors.ts';
import type { AvroSerde } from '../../schemas/registry.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, type ValueSchemaName } from '../../topics/topics.ts';
import { insertDeadLetters, insertOutboxRecords, type DeadLetter, type OutboxRecord } from './outbox.ts';

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

export async function startBatchConsumer(options: BatchConsumerOptions): Promise<RunningBatchConsumer> {
  const { name, pool, serde, log } = options;
  const now = options.now ?? (() => new Date());
  const chunkSizeMax = options.chunkSizeMax ?? 500;
  const subscriptionByTopic = new Map(options.subscriptions.map((subscription) => [subscription.topic, subscription]));
  const processed = new Counter({ name: 'consumer_records_total', help: 'Consumed records by outcome', labelNames: ['consumer', 'topic', 'outcome'] as const, registers: [options.metrics] });
  const chunkSeconds = new Histogram({ name: 'consumer_chunk_seconds', help: 'Time to apply one chunk in one transaction', labelNames: ['consumer'] as const, registers: [options.metrics] });
  // A dependency outage is waited out in place (heartbeating), so the partition is not handed to
  // another member that would fail the same way.
  const retry = createRetry({
    attemptsMax: 50,
    delayInitialMs: 200,
    delayMaxMs: 5_000,
    totalMs: 120_000,
    shouldRetry: (error) => isRetriable(error) || classifyDatabaseError(error).retriable,
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

  async function applyChunk(decoded: readonly Decoded[], letters: readonly DeadLetter[]): Promise<void> {
    const stopTimer = chunkSeconds.startTimer({ consumer: name });
    await retry(() =>
      pool.transaction(async (transaction) => {
        const unique = new Map<string, ConsumedRecord>();
        // Claimed in sorted order: two instances claiming overlapping ids never deadlock each other.
        const sorted = [...decoded].sort((left, right) => (left.record.messageId < right.record.messageId ? -1 : left.record.messageId > right.record.messageId ? 1 : 0));
        for (const { record } of sorted) if (!unique.has(record.messageId)) unique.set(record.messageId, record);
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
          fresh = [...unique.values()].filter((record) => claimedIds.has(record.messageId));
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
    stopTimer();
  }

  const consumer = options.kafka.consumer({
    groupId: name,
    allowAutoTopicCreation: false,
    sessionTimeout: options.sessionTimeoutMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    heartbeatInterval: Math.max(1_000, Math.floor(options.sessionTimeoutMs / 5)),
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
        await applyChunk(decoded, letters);
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
