// Reads every record of a topic up to its current end — not "until idle" — so an assertion that a
// record is absent is a real one and does not depend on a timeout.
//
// What a test file has read once is kept (per broker and topic) and only the records after it are
// fetched on the next call: tests poll topics that earlier files filled with 10^5 records, and
// reading and decoding all of them on every poll was the largest cost of several e2e files. A
// partition's log is append-only; records deleted below its start offset are dropped from the kept
// ones, so the answer is always exactly the records between each partition's start and end.
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/logger.ts';
import { createKafkaClient, type IHeaders } from '../../core/kafka/kafka-client.ts';
import { schemaRegistryAccessOf, createAvroSerde, createSchemaRegistryClient } from '../../schemas/registry.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';

export interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  headers: IHeaders;
  raw: Buffer | null;
  value: unknown;
}

interface ReadSoFar {
  readonly records: TopicRecord[];
  /** Per partition, the offset after the last record kept. */
  readonly next: Map<number, bigint>;
}

const readSoFar = new Map<string, ReadSoFar>();
// One read per topic at a time: two concurrent reads of the same range would keep its records twice.
const reads = new Map<string, Promise<unknown>>();

export async function readTopic(endpoints: StackEndpoints, topic: string): Promise<TopicRecord[]> {
  const cacheKey = `${endpoints.kafkaBrokers.join(',')}|${topic}`;
  const previous = reads.get(cacheKey) ?? Promise.resolve();
  const read = previous.catch(() => undefined).then(() => readAfterKept(endpoints, topic, cacheKey));
  reads.set(cacheKey, read);
  return read;
}

async function readAfterKept(endpoints: StackEndpoints, topic: string, cacheKey: string): Promise<TopicRecord[]> {
  const kept = readSoFar.get(cacheKey) ?? { records: [], next: new Map<number, bigint>() };
  readSoFar.set(cacheKey, kept);
  const log = createLogger({ name: 'test-topic-reader', level: 'warn' });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'test-reader', log, requestTimeoutMs: 10_000 });
  const serde = createAvroSerde(createSchemaRegistryClient(schemaRegistryAccessOf(endpoints)));
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const lows = new Map(ends.map((end) => [end.partition, BigInt(end.low)]));
  const deleted = (record: TopicRecord): boolean => BigInt(record.offset) < (lows.get(record.partition) ?? 0n);
  if (kept.records.some(deleted)) kept.records.splice(0, kept.records.length, ...kept.records.filter((record) => !deleted(record)));
  // Where each partition's unread records start: after what was kept, never below the log's start.
  const starts = new Map(ends.map((end) => [end.partition, [kept.next.get(end.partition) ?? 0n, BigInt(end.low)].reduce((a, b) => (a > b ? a : b))]));
  // Partitions with nothing unread (all read before, or all deleted) are not waited for.
  const remaining = new Map(ends.filter((end) => (starts.get(end.partition) ?? 0n) < BigInt(end.high)).map((end) => [end.partition, BigInt(end.high)]));
  const highs = new Map(remaining);
  const records: TopicRecord[] = [];
  if (remaining.size === 0) return [...kept.records];

  // disconnect() waits for the fetch in flight, which the broker holds this long once the end is read.
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const reading = new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end within 30 s`)), 30_000);
      const done = (): void => {
        clearTimeout(deadline);
        resolve();
      };
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition);
            // Before the seek below takes effect the consumer may deliver records already kept.
            if (high === undefined || BigInt(message.offset) >= high || BigInt(message.offset) < (starts.get(partition) ?? 0n)) return;
            records.push({
              partition,
              offset: message.offset,
              key: message.key?.toString() ?? null,
              headers: message.headers ?? {},
              raw: message.value,
              // Garbage a test put on the topic (a poison record) reads as undefined, not a hang.
              value: message.value === null ? null : await serde.decode(message.value).catch(() => undefined),
            });
            if (BigInt(message.offset) + 1n >= high) remaining.delete(partition);
            if (remaining.size === 0) done();
          },
        })
        .catch(reject);
    });
    // run() has created the group synchronously, so the seeks apply from the first fetch. Were one
    // refused, reading from the beginning is only slower: the guard above skips the kept records.
    for (const [partition] of highs) {
      try {
        consumer.seek({ topic, partition, offset: String(starts.get(partition) ?? 0n) });
      } catch (error) {
        log.warn({ err: error, topic, partition }, 'seek refused; reading the partition from its start');
      }
    }
    await reading;
  } finally {
    await consumer.disconnect();
  }
  kept.records.push(...records);
  for (const [partition, high] of highs) kept.next.set(partition, high);
  return [...kept.records];
}
