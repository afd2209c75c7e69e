// Proves the topic plan alone: missing topics are created with the clamped replication, and every
// difference in partitions, replication or config is reported as drift, never silently changed.
import { describe, expect, it } from 'vitest';
import { planTopics, wantedConfigs } from './topic-plan.ts';
import { topicDefinitions, topicNames } from './topics.ts';

const payments = topicDefinitions.find((topic) => topic.name === topicNames.paymentsReceived)!;

describe('planTopics', () => {
  it('creates every missing topic, clamping replication to a one-broker cluster', () => {
    const plan = planTopics(topicDefinitions, [], 1);
    expect(plan.create).toHaveLength(topicDefinitions.length);
    expect(plan.create.every((topic) => topic.replicationFactor === 1 && topic.configs['min.insync.replicas'] === '1')).toBe(true);
    expect(plan.drift).toEqual([]);
  });

  it('keeps two in-sync replicas of three on a production cluster', () => {
    const [creation] = planTopics([payments], [], 5).create;
    expect(creation).toMatchObject({ replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
  });

  it('reports an existing topic as unchanged when it matches, as drift when it does not', () => {
    const matching = { name: payments.name, partitions: payments.partitions, replicationFactor: 1, configs: wantedConfigs(payments, 1) };
    expect(planTopics([payments], [matching], 1)).toEqual({ create: [], drift: [], unchanged: [payments.name] });

    const drifted = { ...matching, partitions: 2, configs: { ...matching.configs, 'cleanup.policy': 'compact' } };
    const plan = planTopics([payments], [drifted], 1);
    expect(plan.create).toEqual([]);
    expect(plan.drift).toEqual([
      { topic: payments.name, setting: 'partitions', wanted: String(payments.partitions), actual: '2' },
      { topic: payments.name, setting: 'cleanup.policy', wanted: 'delete', actual: 'compact' },
    ]);
  });

  it('gives every consumed topic a dead-letter topic and compacts the config topics', () => {
    const names = new Set(topicDefinitions.map((topic) => topic.name));
    for (const topic of topicDefinitions.filter((definition) => definition.consumed)) expect(names.has(`${topic.name}.dlq`)).toBe(true);
    const compacted = topicDefinitions.filter((topic) => topic.cleanupPolicy === 'compact').map((topic) => topic.name);
    expect(compacted.sort()).toEqual([topicNames.clientPayoutConfigs, topicNames.pipelineConfig].sort());
  });
});
