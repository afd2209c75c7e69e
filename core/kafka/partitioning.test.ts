import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topicDefinitions, topicNames } from '../../topics/topics.ts';
import { partitionCountOf, partitionOf } from './partitioning.ts';

describe('partitionOf', () => {
  it('puts a key where the Java client would: murmur2(key) modulo the partition count', () => {
    // Kafka's own murmur2 test vectors (21 → -973932308, foobar → -790332482, abc → 479470107,
    // a-little-bit-long-string → -985981536), made positive and taken modulo 6.
    const topic = topicNames.paymentsReceived;
    expect(topicDefinitions.find((definition) => definition.name === topic)?.partitions).toBe(6);
    expect(['21', 'foobar', 'abc', 'a-little-bit-long-string'].map((key) => partitionOf(topic, key))).toEqual([0, 0, 3, 2]);
  });

  it('is in range, the same for the same key, and independent of earlier calls', () => {
    fc.assert(
      fc.property(fc.constantFrom(...topicDefinitions), fc.string({ minLength: 1, maxLength: 40 }), (definition, key) => {
        const partition = partitionOf(definition.name, key);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(definition.partitions);
        partitionOf(definition.name, null);
        expect(partitionOf(definition.name, key)).toBe(partition);
      }),
    );
  });

  it('spreads records without a key over every partition', () => {
    const topic = topicNames.paymentsReceived;
    const count = partitionCountOf(topic);
    const seen = new Set(Array.from({ length: count * 4 }, () => partitionOf(topic, null)));
    expect(seen.size).toBe(count);
  });

  it('refuses a topic that is not defined', () => {
    expect(() => partitionOf('no-such-topic', 'k')).toThrow(/defined topic/);
    expect(() => partitionCountOf('no-such-topic')).toThrow(/defined topic/);
  });

  it('counts the partitions each topic is defined with', () => {
    for (const definition of topicDefinitions) expect(partitionCountOf(definition.name)).toBe(definition.partitions);
  });
});
