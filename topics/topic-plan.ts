// Pure comparison of the topics we want with the topics the cluster has: what to create, and
// where an existing topic drifted. Kept apart from the admin client so it is tested alone.
import { PipelineError } from '../core/errors.ts';
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

/**
 * Per-environment replication (`TOPIC_REPLICATION_FACTOR`, `TOPIC_MIN_INSYNC_REPLICAS`): each one
 * set replaces the definitions' value for every topic; unset, the definitions' value stands.
 */
export interface ReplicationSettings {
  readonly replicationFactor?: number | undefined;
  readonly minInSyncReplicas?: number | undefined;
}

const settingNames = { replicationFactor: 'TOPIC_REPLICATION_FACTOR', minInSyncReplicas: 'TOPIC_MIN_INSYNC_REPLICAS' } as const;

/** The settings from the configuration, refused when they contradict each other. */
export function replicationSettingsOf(config: { readonly TOPIC_REPLICATION_FACTOR?: number | undefined; readonly TOPIC_MIN_INSYNC_REPLICAS?: number | undefined }): ReplicationSettings {
  const settings = { replicationFactor: config.TOPIC_REPLICATION_FACTOR, minInSyncReplicas: config.TOPIC_MIN_INSYNC_REPLICAS };
  if (settings.replicationFactor !== undefined && settings.minInSyncReplicas !== undefined) checkWanted(settings.replicationFactor, settings.minInSyncReplicas, 'TOPIC_REPLICATION_FACTOR');
  return settings;
}

function checkWanted(replicationFactor: number, minInSyncReplicas: number, replicationSource: string): void {
  if (minInSyncReplicas <= replicationFactor) return;
  throw new PipelineError(
    `TOPIC_MIN_INSYNC_REPLICAS (${minInSyncReplicas}) must not exceed the replication factor (${replicationFactor}, from ${replicationSource}): ` +
      'a topic cannot have more in-sync replicas than replicas, and every write with acks=all would be refused.',
    { context: { minInSyncReplicas, replicationFactor, replicationSource } },
  );
}

/** What a topic should have before the cluster is looked at: the settings where set, else its definition. */
export function wantedReplication(definition: TopicDefinition, settings: ReplicationSettings = {}) {
  const replicationFactor = settings.replicationFactor ?? definition.replicationFactor;
  const minInSyncReplicas = settings.minInSyncReplicas ?? definition.minInSyncReplicas;
  checkWanted(replicationFactor, minInSyncReplicas, settings.replicationFactor === undefined ? `topics/topics.ts for ${definition.name}` : settingNames.replicationFactor);
  return { replicationFactor, minInSyncReplicas };
}

/**
 * The wanted replication clamped to the brokers present: a topic cannot have more replicas than
 * brokers. When that lowers the replication factor, min.insync.replicas drops to one less than it
 * (at least 1), so the smaller cluster may still lose a broker without refusing writes.
 */
export function effectiveReplication(definition: TopicDefinition, brokerCount: number, settings: ReplicationSettings = {}) {
  const wanted = wantedReplication(definition, settings);
  const replicationFactor = Math.max(1, Math.min(wanted.replicationFactor, brokerCount));
  const lowered = replicationFactor < wanted.replicationFactor;
  const minInSyncReplicas = lowered ? Math.max(1, Math.min(wanted.minInSyncReplicas, replicationFactor - 1)) : wanted.minInSyncReplicas;
  return { replicationFactor, minInSyncReplicas, lowered };
}

export function wantedConfigs(definition: TopicDefinition, brokerCount: number, settings: ReplicationSettings = {}): Record<string, string> {
  return {
    'cleanup.policy': definition.cleanupPolicy,
    'retention.ms': String(definition.retentionMs),
    'min.insync.replicas': String(effectiveReplication(definition, brokerCount, settings).minInSyncReplicas),
  };
}

/**
 * One line for the log of `topics apply`: the replication wanted, where it comes from, and whether
 * the cluster's broker count lowered it.
 */
export function describeReplication(definitions: readonly TopicDefinition[], brokerCount: number, settings: ReplicationSettings = {}): string {
  const brokers = `${brokerCount} broker${brokerCount === 1 ? '' : 's'}`;
  const source = (key: keyof ReplicationSettings): string => (settings[key] === undefined ? 'topics/topics.ts' : settingNames[key]);
  const lines = new Set(
    definitions.map((definition) => {
      const wanted = wantedReplication(definition, settings);
      const effective = effectiveReplication(definition, brokerCount, settings);
      const wantedText = `replication factor ${wanted.replicationFactor} (${source('replicationFactor')}), min.insync.replicas ${wanted.minInSyncReplicas} (${source('minInSyncReplicas')})`;
      return effective.lowered
        ? `replication: wanted ${wantedText}; the cluster has ${brokers}, so lowered to replication factor ${effective.replicationFactor}, min.insync.replicas ${effective.minInSyncReplicas}`
        : `replication: ${wantedText} on ${brokers}`;
    }),
  );
  return [...lines].join('\n');
}

export function planTopics(
  definitions: readonly TopicDefinition[],
  existing: readonly ExistingTopic[],
  brokerCount: number,
  settings: ReplicationSettings = {},
): TopicPlan {
  const existingByName = new Map(existing.map((topic) => [topic.name, topic]));
  const plan: TopicPlan = { create: [], drift: [], unchanged: [] };
  for (const definition of definitions) {
    const configs = wantedConfigs(definition, brokerCount, settings);
    const { replicationFactor } = effectiveReplication(definition, brokerCount, settings);
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
