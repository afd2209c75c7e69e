// Test isolation for processors that consume shared topics. Each test file shares one broker with
// the files before it; a processor group starting for the first time reads its topics from the
// beginning (as it must in production) and would act on commands other files left behind — real
// exchanges, real transfers — muddling this file's assertions. Moving the group to the end of its
// topics before its processes start makes the file see only what it produces itself.
import { createLogger } from '../../core/logger.ts';
import { createKafkaClient, type Admin } from '../../core/kafka/kafka-client.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';

/** Runs `use` with a connected Kafka admin client of the test stack, disconnected afterwards. */
export async function withKafkaAdmin<T>(endpoints: StackEndpoints, use: (admin: Admin) => Promise<T>): Promise<T> {
  const log = createLogger({ name: 'test-consumer-groups', level: 'warn' });
  const admin = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'test-consumer-groups', log, requestTimeoutMs: 10_000 }).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The group must have no live member (start its processes afterwards). */
export async function skipGroupToLatest(endpoints: StackEndpoints, groupId: string, topics: readonly string[]): Promise<void> {
  await withKafkaAdmin(endpoints, async (admin) => {
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId, topic, partitions: ends.map((end) => ({ partition: end.partition, offset: end.high })) });
    }
  });
}
