// Test isolation for processors that consume shared topics. Each test file shares one broker with
// the files before it; a processor group starting for the first time reads its topics from the
// beginning (as it must in production) and would act on commands other files left behind — real
// exchanges, real transfers — muddling this file's assertions. Moving the group to the end of its
// topics before its processes start makes the file see only what it produces itself.
import { createLogger } from '../../core/logger.ts';
import { createKafkaClient } from '../../core/kafka/kafka-client.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';

/** The group must have no live member (start its processes afterwards). */
export async function skipGroupToLatest(endpoints: StackEndpoints, groupId: string, topics: readonly string[]): Promise<void> {
  const log = createLogger({ name: 'test-consumer-groups', level: 'warn' });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, clientId: 'test-consumer-groups', log, requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId, topic, partitions: ends.map((end) => ({ partition: end.partition, offset: end.high })) });
    }
  } finally {
    await admin.disconnect();
  }
}
