// The idempotent preparation every process may run at start: migrations, topics, schemas.
// Running it twice, or from several processes at once, changes nothing the second time
// (migrations hold an advisory lock; topic creation and schema registration are idempotent).
import type { Logger } from '../core/logger.ts';
import { createKafkaClient } from '../core/kafka/kafka-client.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { schemaRegistryAccessOf, registerValueSchemas } from '../schemas/registry.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { applyTopics, formatTopicPlan } from '../topics/apply-topics.ts';
import type { ReplicationSettings } from '../topics/topic-plan.ts';
import { topicDefinitions } from '../topics/topics.ts';

export async function migrate(endpoints: StackEndpoints, log: Logger): Promise<void> {
  const result = await migrateDatabase({ databaseUrl: endpoints.databaseUrl, log });
  log.info({ applied: result.applied, alreadyApplied: result.alreadyApplied }, 'migrations done');
}

/** `replication`: the environment's TOPIC_REPLICATION_FACTOR / TOPIC_MIN_INSYNC_REPLICAS (replicationSettingsOf); none keeps the definitions'. */
export async function applyAllTopics(endpoints: StackEndpoints, log: Logger, replication: ReplicationSettings = {}): Promise<string> {
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'topics-apply', log, requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const plan = await applyTopics(admin, topicDefinitions, replication);
    log.info({ replication: plan.replication }, 'topic replication');
    if (plan.drift.length > 0) log.warn({ drift: plan.drift }, 'topics drifted from topics/topics.ts');
    return formatTopicPlan(plan);
  } finally {
    await admin.disconnect();
  }
}

export async function prepare(endpoints: StackEndpoints, log: Logger, replication: ReplicationSettings = {}): Promise<void> {
  await migrate(endpoints, log);
  log.info('\n' + (await applyAllTopics(endpoints, log, replication)));
  const registered = await registerValueSchemas(schemaRegistryAccessOf(endpoints), topicDefinitions);
  log.info({ subjects: registered.length }, 'schemas registered');
}
