// Proves the topic plan alone: missing topics are created with the clamped replication, and every
// difference in partitions, replication or config is reported as drift, never silently changed.
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../core/errors.ts';
import { loadConfig } from '../core/config.ts';
import { describeReplication, planTopics, replicationSettingsOf, wantedConfigs } from './topic-plan.ts';
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

describe('per-environment replication (TOPIC_REPLICATION_FACTOR, TOPIC_MIN_INSYNC_REPLICAS)', () => {
  const settingsOf = (environment: Record<string, string>) => replicationSettingsOf(loadConfig(environment));

  it("replaces the definitions' 3 and 2 for every topic when set", () => {
    const settings = settingsOf({ TOPIC_REPLICATION_FACTOR: '5', TOPIC_MIN_INSYNC_REPLICAS: '3' });
    const plan = planTopics(topicDefinitions, [], 7, settings);
    expect(plan.create.every((topic) => topic.replicationFactor === 5 && topic.configs['min.insync.replicas'] === '3')).toBe(true);
  });

  it("keeps the definitions' value for the setting left unset", () => {
    const [onlyMinInSync] = planTopics([payments], [], 3, settingsOf({ TOPIC_MIN_INSYNC_REPLICAS: '3' })).create;
    expect(onlyMinInSync).toMatchObject({ replicationFactor: 3, configs: { 'min.insync.replicas': '3' } });
    const [onlyReplication] = planTopics([payments], [], 3, settingsOf({ TOPIC_REPLICATION_FACTOR: '2' })).create;
    expect(onlyReplication).toMatchObject({ replicationFactor: 2, configs: { 'min.insync.replicas': '2' } });
  });

  it('still lowers them to the brokers present, min.insync one below, and says so', () => {
    const settings = settingsOf({ TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '2' });
    expect(planTopics([payments], [], 2, settings).create[0]).toMatchObject({ replicationFactor: 2, configs: { 'min.insync.replicas': '1' } });
    expect(planTopics([payments], [], 1, settings).create[0]).toMatchObject({ replicationFactor: 1, configs: { 'min.insync.replicas': '1' } });
    expect(describeReplication([payments], 1, settings)).toBe(
      'replication: wanted replication factor 3 (TOPIC_REPLICATION_FACTOR), min.insync.replicas 2 (TOPIC_MIN_INSYNC_REPLICAS); the cluster has 1 broker, so lowered to replication factor 1, min.insync.replicas 1',
    );
    expect(describeReplication(topicDefinitions, 3)).toBe('replication: replication factor 3 (topics/topics.ts), min.insync.replicas 2 (topics/topics.ts) on 3 brokers');
  });

  it('reports as drift an existing topic whose replication differs from the settings', () => {
    const existing = { name: payments.name, partitions: payments.partitions, replicationFactor: 3, configs: wantedConfigs(payments, 3) };
    const plan = planTopics([payments], [existing], 3, settingsOf({ TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '3' }));
    expect(plan.drift).toEqual([{ topic: payments.name, setting: 'min.insync.replicas', wanted: '3', actual: '2' }]);
  });

  it('refuses a min.insync.replicas above the replication factor, naming both', () => {
    const refusal = (run: () => unknown): PipelineError => {
      try {
        run();
      } catch (error) {
        if (error instanceof PipelineError) return error;
        throw error;
      }
      throw new Error('accepted, but should have been refused');
    };
    expect(refusal(() => settingsOf({ TOPIC_REPLICATION_FACTOR: '2', TOPIC_MIN_INSYNC_REPLICAS: '3' })).message).toMatch(
      /^TOPIC_MIN_INSYNC_REPLICAS \(3\) must not exceed the replication factor \(2, from TOPIC_REPLICATION_FACTOR\)/,
    );
    // Only one set: checked against the definitions' replication factor when the plan is made.
    expect(refusal(() => planTopics([payments], [], 5, settingsOf({ TOPIC_MIN_INSYNC_REPLICAS: '4' }))).message).toMatch(
      /^TOPIC_MIN_INSYNC_REPLICAS \(4\) must not exceed the replication factor \(3, from topics\/topics.ts for payments-received\)/,
    );
  });

  it('accepts only positive integers in the configuration', () => {
    for (const value of ['0', '-1', '1.5', 'three']) expect(() => loadConfig({ TOPIC_REPLICATION_FACTOR: value })).toThrow(/TOPIC_REPLICATION_FACTOR/);
  });
});
