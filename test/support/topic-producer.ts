// Produces records the way the pipeline's own producers do (Avro through the registry, acks=all,
// a correlation id header), for tests that drive a processor through its input topic.
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/logger.ts';
import { correlationIdHeader, createIdempotentProducer, createKafkaClient } from '../../core/kafka/kafka-client.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { schemaRegistryAccessOf, createAvroSerde, createSchemaRegistryClient } from '../../schemas/registry.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import type { ValueSchemaName } from '../../topics/topics.ts';

export interface TopicProducer {
  send<S extends ValueSchemaName>(topic: string, schemaName: S, key: string, value: ValueRecordOf<S>, correlationId?: string): Promise<void>;
  close(): Promise<void>;
}

export async function openTopicProducer(endpoints: StackEndpoints): Promise<TopicProducer> {
  const log = createLogger({ name: 'test-producer', level: 'warn' });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'test-producer', log, requestTimeoutMs: 10_000 });
  const serde = createAvroSerde(createSchemaRegistryClient(schemaRegistryAccessOf(endpoints)));
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  return {
    async send(topic, schemaName, key, value, correlationId = randomUUID()) {
      const encoded = await serde.encode(topic, schemaName, value);
      await producer.send({ topic, acks: -1, messages: [{ key, value: encoded, headers: { [correlationIdHeader]: correlationId } }] });
    },
    close: () => producer.disconnect(),
  };
}
