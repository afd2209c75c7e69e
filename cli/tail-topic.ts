// `topics tail <topic>`: prints a topic's records decoded through the schema registry, one JSON
// line each, with money as exact decimal strings. An operator's way to read a topic without Kafka UI.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.ts';
import { toReadableJson } from '../schemas/sample-value.ts';
import { createKafkaClient, headerText, correlationIdHeader } from '../core/kafka/kafka-client.ts';
import { schemaRegistryAccessOf, createAvroSerde, createSchemaRegistryClient } from '../schemas/registry.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';

export interface TailOptions {
  topic: string;
  fromBeginning: boolean;
  max: number;
  idleTimeoutMs: number;
}

/** JSON for people: Decimal and bigint as strings (never numbers), dates as ISO-8601, bytes as hex. */
export function toDisplayJson(value: unknown): string {
  return JSON.stringify(toReadableJson(value));
}

export async function tailTopic(endpoints: StackEndpoints, options: TailOptions, log: Logger, write: (line: string) => void): Promise<number> {
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'cli-tail', log, requestTimeoutMs: 10_000 });
  const serde = createAvroSerde(createSchemaRegistryClient(schemaRegistryAccessOf(endpoints)));
  // disconnect() waits for the fetch in flight, which the broker holds this long once the end is read.
  const consumer = kafka.consumer({ groupId: `cli-tail-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  let printed = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning });
    await new Promise<void>((resolve, reject) => {
      const armIdleTimer = (): void => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(resolve, options.idleTimeoutMs);
      };
      armIdleTimer();
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (printed >= options.max) return;
            armIdleTimer();
            const value = message.value === null ? null : await serde.decode(message.value);
            write(
              toDisplayJson({
                partition,
                offset: message.offset,
                key: message.key?.toString() ?? null,
                correlationId: headerText(message.headers, correlationIdHeader) ?? null,
                value,
              }),
            );
            printed += 1;
            if (printed >= options.max) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(idleTimer);
    await consumer.disconnect();
  }
  return printed;
}
