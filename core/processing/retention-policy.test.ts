// Proves the inbox retention rules on the project's own topic table and on arbitrary ones
// (fast-check): only topics Kafka deletes records from are pruned, never those kept forever, and
// no window shorter than the longest retention plus a segment's lifetime is accepted.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topicDefinitions, topicNames, type TopicDefinition } from '../../topics/topics.ts';
import { inboxRetentionMsMin, planInboxRetention, segmentLifetimeMsMax } from './retention-policy.ts';

const dayMs = 24 * 60 * 60 * 1000;

describe('planInboxRetention', () => {
  it('prunes the 30-day command, event and alert topics and keeps the inbox of every topic kept forever', () => {
    const check = planInboxRetention(topicDefinitions, 60 * dayMs);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect([...check.plan.prunableTopics].sort()).toEqual(
      [topicNames.conversionRequests, topicNames.payoutRequests, topicNames.swapEvents, topicNames.transferRequests, topicNames.chainEvents, topicNames.alerts].sort(),
    );
    for (const forever of [topicNames.paymentsReceived, topicNames.clientPayoutConfigs, topicNames.pipelineConfig, topicNames.usdtCredits]) {
      expect(check.plan.prunableTopics).not.toContain(forever);
    }
  });

  it('refuses a window no longer than 30 days plus a segment lifetime', () => {
    expect(inboxRetentionMsMin(topicDefinitions)).toBe(30 * dayMs + segmentLifetimeMsMax);
    const check = planInboxRetention(topicDefinitions, 37 * dayMs);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(/INBOX_RETENTION/);
  });

  it('for any topics and window: an accepted plan prunes only finite topics, all shorter-lived than the window by a segment', () => {
    const topic = fc.record({
      name: fc.string({ minLength: 1, maxLength: 12 }),
      retentionMs: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 400 * dayMs })),
      consumed: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(topic, { maxLength: 12 }), fc.integer({ min: 0, max: 800 * dayMs }), (topics, windowMs) => {
        const definitions = topics.map((entry): TopicDefinition => ({ ...entry, partitions: 1, cleanupPolicy: 'delete', replicationFactor: 1, minInSyncReplicas: 1, description: '' }));
        const check = planInboxRetention(definitions, windowMs);
        if (!check.ok) {
          expect(windowMs).toBeLessThanOrEqual(inboxRetentionMsMin(definitions));
          return;
        }
        for (const name of check.plan.prunableTopics) {
          const matching = definitions.filter((definition) => definition.name === name && definition.consumed);
          expect(matching.some((definition) => definition.retentionMs >= 0)).toBe(true);
          for (const definition of matching.filter((entry) => entry.retentionMs >= 0)) {
            expect(definition.retentionMs + segmentLifetimeMsMax).toBeLessThan(windowMs);
          }
        }
        for (const definition of definitions.filter((entry) => entry.retentionMs < 0 && entry.consumed)) {
          const sameNameFinite = definitions.some((entry) => entry.name === definition.name && entry.consumed && entry.retentionMs >= 0);
          if (!sameNameFinite) expect(check.plan.prunableTopics).not.toContain(definition.name);
        }
      }),
    );
  });
});
