// Reads every record of a topic up to its current end — not "until idle" — so an assertion that a
// record is absent is a real one and does not depend on a timeout.
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/logger.ts';
import { createKafkaClient, type IHeaders } from '../../core/kafka/kafka-client.ts';
import { createAvroSerde, createSchemaRegistryClient } from '../../schemas/registry.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';

export interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  headers: IHeaders;
  raw: Buffer | null;
  value: unknown;
}

export async function readTopic(endpoints: StackEndpoints, topic: string): Promise<TopicRecord[]> {
  const log = createLogger({ name: 'test-topic-reader', level: 'warn' });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, clientId: 'test-reader', log, requestTimeoutMs: 10_000 });
  const serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  // Partitions whose records were all deleted (low = high) have nothing to read.
  const remaining = new Map(ends.filter((end) => end.high !== end.low).map((end) => [end.partition, BigInt(end.high)]));
  const records: TopicRecord[] = [];
  if (remaining.size === 0) return records;

  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end within 30 s`)), 30_000);
      const done = (): void => {
        clearTimeout(deadline);
        resolve();
      };
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition);
            if (high === undefined || BigInt(message.offset) >= high) return;
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
  } finally {
    await consumer.disconnect();
  }
  return records;
}
