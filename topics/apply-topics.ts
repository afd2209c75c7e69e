// `topics apply`: creates the missing topics and reports drift on the existing ones. Drift is
// reported, not repaired: changing the partition count of a keyed topic moves keys between
// partitions and breaks per-key ordering, so that stays an operator's decision.
import { UnavailableError } from '../core/errors.ts';
import { ConfigResourceTypes, type Admin } from '../core/kafka/kafka-client.ts';
import { describeReplication, planTopics, type ExistingTopic, type ReplicationSettings, type TopicPlan } from './topic-plan.ts';
import type { TopicDefinition } from './topics.ts';

async function describeExisting(admin: Admin, names: readonly string[]): Promise<ExistingTopic[]> {
  const present = new Set(await admin.listTopics());
  const wanted = names.filter((name) => present.has(name));
  if (wanted.length === 0) return [];
  const metadata = await admin.fetchTopicMetadata({ topics: wanted });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: wanted.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  const configsByTopic = new Map(
    described.resources.map((resource) => [
      resource.resourceName,
      Object.fromEntries(resource.configEntries.map((entry) => [entry.configName, entry.configValue])),
    ]),
  );
  return metadata.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.length,
    replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
    configs: configsByTopic.get(topic.name) ?? {},
  }));
}

export interface AppliedTopics extends TopicPlan {
  /** The replication line of describeReplication: wanted, from where, and whether the broker count lowered it. */
  readonly replication: string;
}

export async function applyTopics(admin: Admin, definitions: readonly TopicDefinition[], settings: ReplicationSettings = {}): Promise<AppliedTopics> {
  const { brokers } = await admin.describeCluster();
  const replication = describeReplication(definitions, brokers.length, settings);
  const existing = await describeExisting(
    admin,
    definitions.map((definition) => definition.name),
  );
  const plan = planTopics(definitions, existing, brokers.length, settings);
  if (plan.create.length > 0) {
    await admin.createTopics({
      // kafkajs' own wait asks one broker for the new topics' metadata and gives up when that
      // broker has not learned of them yet (UNKNOWN_TOPIC_OR_PARTITION), which on a cluster of
      // several brokers happens right after the create; waitForLeaders below retries instead.
      waitForLeaders: false,
      topics: plan.create.map((topic) => ({
        topic: topic.name,
        numPartitions: topic.partitions,
        replicationFactor: topic.replicationFactor,
        configEntries: Object.entries(topic.configs).map(([name, value]) => ({ name, value })),
      })),
    });
    await waitForLeaders(admin, plan.create.map((topic) => topic.name));
  }
  return { ...plan, replication };
}

const leaderWaitMs = 30_000;

/** Until every partition of the topics has a leader, as the clients see it; broker metadata lags a create by a moment. */
async function waitForLeaders(admin: Admin, topics: readonly string[]): Promise<void> {
  const deadline = Date.now() + leaderWaitMs;
  for (;;) {
    let problem: string;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.topics.flatMap((topic) => topic.partitions.filter((partition) => partition.leader < 0).map((partition) => `${topic.name}-${partition.partitionId}`));
      if (leaderless.length === 0) return;
      problem = `no leader yet for ${leaderless.join(', ')}`;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new UnavailableError(`topics created, but not usable within ${leaderWaitMs} ms: ${problem}`, { context: { topics } });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function formatTopicPlan(plan: AppliedTopics): string {
  const lines = [
    plan.replication,
    ...plan.create.map((topic) => `created   ${topic.name} (${topic.partitions} partitions, rf ${topic.replicationFactor}, ${topic.configs['cleanup.policy']})`),
    ...plan.unchanged.map((name) => `ok        ${name}`),
    ...plan.drift.map((drift) => `DRIFT     ${drift.topic}: ${drift.setting} is ${drift.actual}, wanted ${drift.wanted}`),
  ];
  return lines.join('\n');
}
