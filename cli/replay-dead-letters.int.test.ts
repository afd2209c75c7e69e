// Proves `replay` on the real broker: dead letters go back onto their topic byte for byte, with
// their original key and headers but without the dlq-* reasons, the progress it reports starts at
// 0 and ends at its total, and a second replay moves nothing.
import { expect, inject, it } from 'vitest';
import { createLogger } from '../core/logger.ts';
import { createIdempotentProducer, createKafkaClient, headerText } from '../core/kafka/kafka-client.ts';
import { readTopic } from '../test/support/topic-records.ts';
import { createAvroSerde, createSchemaRegistryClient } from '../schemas/registry.ts';
import { deadLetterTopicOf, topicNames } from '../topics/topics.ts';
import { uniqueClientId, uniquePaymentId } from '../test/support/ipn.ts';
import { replayDeadLetters } from './replay-dead-letters.ts';
import { paymentReceivedRecord } from '../test/support/payment-record.ts';

it('moves dead letters back unchanged, once', async () => {
  const endpoints = inject('endpoints');
  const log = createLogger({ name: 'replay-test', level: 'silent' });
  const serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
  const paymentId = uniquePaymentId();
  const clientId = uniqueClientId();
  const value = await serde.encode(topicNames.paymentsReceived, 'payment-received', paymentReceivedRecord(paymentId, clientId));
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'replay-test', log, requestTimeoutMs: 10_000 });
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  await producer.send({
    topic: deadLetterTopicOf(topicNames.paymentsReceived),
    acks: -1,
    messages: [{ key: clientId, value, headers: { 'correlation-id': 'replay-correlation', 'dlq-reason': 'client unknown', 'dlq-rule': 'registered-client' } }],
  });
  await producer.disconnect();

  const progress: { replayed: number; total: number }[] = [];
  const first = await replayDeadLetters(endpoints, topicNames.paymentsReceived, log, (replayed, total) => progress.push({ replayed, total }));
  expect(first.replayed).toBeGreaterThanOrEqual(1);
  expect(progress[0]).toEqual({ replayed: 0, total: first.replayed });
  expect(progress.at(-1)).toEqual({ replayed: first.replayed, total: first.replayed });
  const replayed = (await readTopic(endpoints, topicNames.paymentsReceived)).filter((record) => record.raw?.equals(value) === true);
  expect(replayed).toHaveLength(1);
  expect(replayed[0]?.key).toBe(clientId);
  expect(headerText(replayed[0]?.headers, 'correlation-id')).toBe('replay-correlation');
  expect(headerText(replayed[0]?.headers, 'replayed-from')).toMatch(/^payments-received\.dlq\/0\/\d+$/);
  expect(headerText(replayed[0]?.headers, 'dlq-reason')).toBeUndefined();

  expect((await replayDeadLetters(endpoints, topicNames.paymentsReceived, log)).replayed).toBe(0);
});
