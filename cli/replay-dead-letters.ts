// `replay <topic>`: moves the dead letters of <topic> back onto it, byte for byte, once the cause
// is fixed (a client registered, a schema deployed, a bug released). The work is the console's
// too (POST /api/dead-letters/:topic/replay): both call core/kafka/dead-letter-replay.ts, which
// keeps the original key and headers minus the dlq-* reasons, adds `replayed-from`, and says why
// replaying twice is harmless (consumers dedupe on business ids).
import type { Logger } from '../core/logger.ts';
import { createIdempotentProducer, createKafkaClient } from '../core/kafka/kafka-client.ts';
import { replayDeadLetterRecords, type ReplayProgress } from '../core/kafka/dead-letter-replay.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { deadLetterTopicOf } from '../topics/topics.ts';

export interface ReplayResult {
  replayed: number;
}

export async function replayDeadLetters(endpoints: StackEndpoints, topic: string, log: Logger, onProgress?: ReplayProgress): Promise<ReplayResult> {
  const deadLetterTopic = deadLetterTopicOf(topic);
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'cli-replay', log, requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  const producer = createIdempotentProducer(kafka);
  await admin.connect();
  await producer.connect();
  try {
    const { replayed } = await replayDeadLetterRecords({ kafka, admin, producer, topic, deadLetterTopic, selection: { kind: 'all' }, ...(onProgress === undefined ? {} : { onProgress }) });
    log.info({ topic, replayed }, 'dead letters replayed');
    return { replayed };
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}
