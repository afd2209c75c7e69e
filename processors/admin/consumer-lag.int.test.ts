// Proves `payout_pipeline_consumer_lag` through the admin process's /metrics on the real stack: a
// group that committed part of a fresh two-partition topic shows, per partition, exactly the
// records it has not consumed, and the figure follows when the group commits further.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { createIdempotentProducer, createKafkaClient, type Producer } from '../../core/kafka/kafka-client.ts';
import { eventually } from '../../test/support/eventually.ts';
import { setGroupOffsets, withKafkaAdmin } from '../../test/support/consumer-groups.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { startAdmin, type RunningAdmin } from './start-admin.ts';

const endpoints = inject('endpoints');
const log = createLogger({ name: 'lag-test', level: 'silent' });
const topic = `lag-test-${randomUUID()}`;
const group = `lag-test-group-${randomUUID()}`;
const wait = { timeoutMs: 20_000, intervalMs: 100 };

let admin: RunningAdmin;
let producer: Producer;

beforeAll(async () => {
  const config = loadConfig({ ...testStackEnvironment(process.env), ADMIN_TOKEN: 'lag-test-admin-token-0123456789abcdef' });
  await withKafkaAdmin(endpoints, (kafkaAdmin) => kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true }));
  producer = createIdempotentProducer(createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'lag-test', log, requestTimeoutMs: 10_000 }));
  await producer.connect();
  admin = await startAdmin({ config, endpoints, port: 0, log, cooldownSweepIntervalMs: 0, livenessCheckIntervalMs: 0, consumerLagIntervalMs: 100 });
});

afterAll(async () => {
  await admin?.stop();
  await producer?.disconnect();
  await withKafkaAdmin(endpoints, (kafkaAdmin) => kafkaAdmin.deleteTopics({ topics: [topic] }));
});

async function lagLines(): Promise<string[]> {
  const text = await (await fetch(`${admin.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('payout_pipeline_consumer_lag{') && line.includes(`group="${group}"`))
    .sort();
}

describe('payout_pipeline_consumer_lag', () => {
  it("shows each partition's unconsumed records of a lagging group, and follows its commits", { timeout: 60_000 }, async () => {
    const message = (index: number) => ({ key: `k${index}`, value: Buffer.from(`record ${index}`) });
    await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3, 4].map((index) => ({ ...message(index), partition: 0 })) });
    await producer.send({ topic, acks: -1, messages: [5, 6, 7].map((index) => ({ ...message(index), partition: 1 })) });
    // The group consumed two records of partition 0 and none of partition 1.
    await setGroupOffsets(endpoints, group, [{ topic, partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '0' }] }]);

    await eventually(async () => {
      expect(await lagLines()).toEqual([
        `payout_pipeline_consumer_lag{group="${group}",topic="${topic}",partition="0",service="admin"} 3`,
        `payout_pipeline_consumer_lag{group="${group}",topic="${topic}",partition="1",service="admin"} 3`,
      ]);
    }, wait);

    await setGroupOffsets(endpoints, group, [{ topic, partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '1' }] }]);
    await eventually(async () => {
      expect(await lagLines()).toEqual([
        `payout_pipeline_consumer_lag{group="${group}",topic="${topic}",partition="0",service="admin"} 0`,
        `payout_pipeline_consumer_lag{group="${group}",topic="${topic}",partition="1",service="admin"} 2`,
      ]);
    }, wait);
  });
});
