// `replay <topic>`: moves the dead letters of <topic> back onto it, byte for byte, once the cause
// is fixed (a client registered, a schema deployed, a bug released). Records keep their original
// key and headers, minus the dlq-* reason headers, plus `replayed-from` for the audit trail.
// Replaying twice is harmless: consumers dedupe on business ids.
import type { Logger } from '../core/logger.ts';
import { createIdempotentProducer, createKafkaClient, type IHeaders } from '../core/kafka/kafka-client.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { deadLetterTopicOf } from '../topics/topics.ts';

export interface ReplayResult {
  replayed: number;
}

/**
 * How far a replay is, in offsets of the dead-letter topic: `done` reaches `total` when the replay
 * ends. Offsets, not records, because a partition's offsets may include a transaction's markers.
 */
export interface ReplayProgress {
  readonly total: number;
  readonly done: number;
  readonly replayed: number;
}

export interface ReplayOptions {
  /** Called once with done 0 when the work is known, then after each record. */
  readonly onProgress?: (progress: ReplayProgress) => void;
}

function withoutDeadLetterHeaders(headers: IHeaders | undefined, from: string): IHeaders {
  const kept: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (!name.startsWith('dlq-') && value !== undefined) kept[name] = value;
  kept['replayed-from'] = from;
  return kept;
}

export async function replayDeadLetters(endpoints: StackEndpoints, topic: string, log: Logger, options: ReplayOptions = {}): Promise<ReplayResult> {
  const deadLetterTopic = deadLetterTopicOf(topic);
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'cli-replay', log, requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(deadLetterTopic);
  const groupId = `dlq-replay-${topic}`;
  const committed = await admin.fetchOffsets({ groupId, topics: [deadLetterTopic] });
  await admin.disconnect();
  const committedOf = new Map(committed[0]?.partitions.map((partition) => [partition.partition, BigInt(partition.offset)]) ?? []);
  // A partition still has work when its end lies past where the replay group stopped (-1: never ran).
  const remaining = new Map<number, bigint>();
  const startOf = new Map<number, bigint>();
  for (const end of ends) {
    const committedOffset = committedOf.get(end.partition) ?? -1n;
    const start = committedOffset < 0n ? BigInt(end.low) : committedOffset;
    if (BigInt(end.high) > start) {
      remaining.set(end.partition, BigInt(end.high));
      startOf.set(end.partition, start);
    }
  }
  const total = [...remaining].reduce((sum, [partition, high]) => sum + high - (startOf.get(partition) ?? high), 0n);
  const covered = new Map<number, bigint>();
  const report = (replayed: number): void => {
    const done = [...covered.values()].reduce((sum, offsets) => sum + offsets, 0n);
    options.onProgress?.({ total: Number(total), done: Number(done), replayed });
  };
  report(0);
  if (remaining.size === 0) return { replayed: 0 };

  const producer = createIdempotentProducer(kafka);
  // disconnect() waits for the fetch in flight, which the broker holds this long once the end is read.
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  await producer.connect();
  await consumer.connect();
  let replayed = 0;
  try {
    await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition);
            if (high === undefined) return;
            await producer.send({
              topic,
              acks: -1,
              messages: [{ key: message.key, value: message.value, headers: withoutDeadLetterHeaders(message.headers, `${deadLetterTopic}/${partition}/${message.offset}`) }],
            });
            // Committed only after the record is back on its topic: a crash replays it again (harmless).
            await consumer.commitOffsets([{ topic: deadLetterTopic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            replayed += 1;
            covered.set(partition, BigInt(message.offset) + 1n - (startOf.get(partition) ?? 0n));
            report(replayed);
            if (BigInt(message.offset) + 1n >= high) remaining.delete(partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  log.info({ topic, replayed }, 'dead letters replayed');
  return { replayed };
}
