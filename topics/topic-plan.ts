// Pure comparison of the topics we want with the topics the cluster has: what to create, and
// where an existing topic drifted. Kept apart from the admin client so it is tested alone.
import type { TopicDefinition } from './topics.ts';

export interface ExistingTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Readonly<Record<string, string>>;
}

export interface TopicCreation {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

export interface TopicDrift {
  topic: string;
  setting: string;
  wanted: string;
  actual: string;
}

export interface TopicPlan {
  create: TopicCreation[];
  drift: TopicDrift[];
  unchanged: string[];
}

export function effectiveReplication(definition: TopicDefinition, brokerCount: number) {
  const replicationFactor = Math.max(1, Math.min(definition.replicationFactor, brokerCount));
  const minInSyncReplicas = Math.max(1, Math.min(definition.minInSyncReplicas, replicationFactor - 1));
  return { replicationFactor, minInSyncReplicas };
}

export function wantedConfigs(definition: TopicDefinition, brokerCount: number): Record<string, string> {
  return {
    'cleanup.policy': definition.cleanupPolicy,
    'retention.ms': String(definition.retentionMs),
    'min.insync.replicas': String(effectiveReplication(definition, brokerCount).minInSyncReplicas),
  };
}

export function planTopics(
  definitions: readonly TopicDefinition[],
  existing: readonly ExistingTopic[],
  brokerCount: number,
): TopicPlan {
  const existingByName = new Map(existing.map((topic) => [topic.name, topic]));
  const plan: TopicPlan = { create: [], drift: [], unchanged: [] };
  for (const definition of definitions) {
    const configs = wantedConfigs(definition, brokerCount);
    const { replicationFactor } = effectiveReplication(definition, brokerCount);
    const current = existingByName.get(definition.name);
    if (current === undefined) {
      plan.create.push({ name: definition.name, partitions: definition.partitions, replicationFactor, configs });
      continue;
    }
    const drift: TopicDrift[] = [];
    if (current.partitions !== definition.partitions) {
      drift.push({ topic: definition.name, setting: 'partitions', wanted: String(definition.partitions), actual: String(current.partitions) });
    }
    if (current.replicationFactor !== replicationFactor) {
      drift.push({ topic: definition.name, setting: 'replication.factor', wanted: String(replicationFactor), actual: String(current.replicationFactor) });
    }
    for (const [setting, wanted] of Object.entries(configs)) {
      const actual = current.configs[setting] ?? '(unset)';
      if (actual !== wanted) drift.push({ topic: definition.name, setting, wanted, actual });
    }
    if (drift.length === 0) plan.unchanged.push(definition.name);
    else plan.drift.push(...drift);
  }
  return plan;
}
