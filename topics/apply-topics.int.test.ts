// Proves `topics apply` against the real broker: the global setup already applied it once, so
// applying again creates nothing and finds no drift; a hand-made drift is reported, not repaired.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createLogger } from '../core/logger.ts';
import { createKafkaClient, type Admin } from '../core/kafka/kafka-client.ts';
import { applyTopics } from './apply-topics.ts';
import { topicDefinitions, type TopicDefinition } from './topics.ts';

let admin: Admin;

beforeAll(async () => {
  const log = createLogger({ name: 'topics-test', level: 'silent' });
  admin = createKafkaClient({ brokers: inject('endpoints').kafkaBrokers, security: inject('endpoints').kafkaSecurity, clientId: 'topics-test', log, requestTimeoutMs: 10_000 }).admin();
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
});

it('is idempotent: a second apply creates nothing and reports no drift', async () => {
  const plan = await applyTopics(admin, topicDefinitions);
  expect(plan.create).toEqual([]);
  expect(plan.drift).toEqual([]);
  expect(plan.unchanged).toHaveLength(topicDefinitions.length);
});

it('creates a missing topic once, then reports a changed definition as drift without touching the topic', async () => {
  const definition: TopicDefinition = {
    name: `drift-probe-${Date.now()}`,
    partitions: 2,
    cleanupPolicy: 'delete',
    retentionMs: 60_000,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    consumed: false,
    description: 'test topic',
  };
  expect((await applyTopics(admin, [definition])).create).toHaveLength(1);
  const changed = await applyTopics(admin, [{ ...definition, partitions: 4, retentionMs: 120_000 }]);
  expect(changed.create).toEqual([]);
  expect(changed.drift.map((drift) => drift.setting).sort()).toEqual(['partitions', 'retention.ms']);
  const [metadata] = (await admin.fetchTopicMetadata({ topics: [definition.name] })).topics;
  expect(metadata?.partitions).toHaveLength(2);
});
