// Test isolation for processors that consume shared topics. Each test file shares one broker with
// the files before it; a processor group starting for the first time reads its topics from the
// beginning (as it must in production) and would act on commands other files left behind — real
// exchanges, real transfers — muddling this file's assertions. Moving the group to the end of its
// topics before its processes start makes the file see only what it produces itself.
import { createLogger } from '../../core/logger.ts';
import { createKafkaClient, type Admin, type KafkaClient } from '../../core/kafka/kafka-client.ts';
import { commitIdleGroupOffsets, type GroupOffsets } from '../../core/kafka/group-offsets.ts';
import { eventually } from './eventually.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';

/** Runs `use` with a Kafka client of the test stack and its connected admin, disconnected afterwards. */
export async function withKafka<T>(endpoints: StackEndpoints, use: (kafka: KafkaClient, admin: Admin) => Promise<T>): Promise<T> {
  const log = createLogger({ name: 'test-consumer-groups', level: 'warn' });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'test-consumer-groups', log, requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(kafka, admin);
  } finally {
    await admin.disconnect();
  }
}

/** Runs `use` with a connected Kafka admin client of the test stack, disconnected afterwards. */
export function withKafkaAdmin<T>(endpoints: StackEndpoints, use: (admin: Admin) => Promise<T>): Promise<T> {
  return withKafka(endpoints, (_kafka, admin) => use(admin));
}

// A member an earlier file SIGKILLed stays in its group until its session times out
// (KAFKA_SESSION_TIMEOUT, 15 s by default), and the group counts as running until then: wait that
// out rather than fail.
const memberSessionWait = { timeoutMs: 60_000, intervalMs: 500 };

/** Commits the group's offsets once the group has no live member (an earlier file's killed member is waited out). */
export function setGroupOffsets(endpoints: StackEndpoints, groupId: string, offsets: readonly GroupOffsets[]): Promise<void> {
  return withKafka(endpoints, (kafka) => eventually(() => commitIdleGroupOffsets(kafka, groupId, offsets), memberSessionWait));
}

/** Moves the group to the end of its topics, in one group join, once it has no live member; start its processes afterwards. */
export async function skipGroupToLatest(endpoints: StackEndpoints, groupId: string, topics: readonly string[]): Promise<void> {
  await withKafka(endpoints, async (kafka, admin) => {
    await eventually(async () => {
      const offsets = await Promise.all(
        topics.map(async (topic) => ({ topic, partitions: (await admin.fetchTopicOffsets(topic)).map((end) => ({ partition: end.partition, offset: end.high })) })),
      );
      await commitIdleGroupOffsets(kafka, groupId, offsets);
    }, memberSessionWait);
  });
}
