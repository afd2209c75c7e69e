// Which partition a record goes to, decided here rather than inside kafkajs' send: the outbox relay
// sends one partition's records per request (see outbox-relay.ts for why), so it must know the
// partition before it sends. The rule is kafkajs' DefaultPartitioner (murmur2 of the key modulo the
// partition count, as the Java client), the one every producer of the project uses, so a key lands on
// the same partition whichever path wrote it. Partition counts come from the topic definitions, which
// `topics apply` enforces on the cluster.
import { topicDefinitions } from '../../topics/topics.ts';
import { assertInvariant } from '../errors.ts';
import { Partitioners } from './kafka-client.ts';

const partitionCounts = new Map(topicDefinitions.map((definition) => [definition.name, definition.partitions]));
const partitioner = Partitioners.DefaultPartitioner();
const metadataOf = new Map(
  [...partitionCounts].map(([topic, count]) => [topic, Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [], isr: [] }))]),
);

/** How many partitions `topic` has (its definition, which `topics apply` enforces). */
export function partitionCountOf(topic: string): number {
  const count = partitionCounts.get(topic);
  assertInvariant(count !== undefined, 'a defined topic', { topic });
  return count;
}

/** The partition of `topic` a record with this key is written to; a null key is spread round-robin. */
export function partitionOf(topic: string, key: string | null): number {
  const partitionMetadata = metadataOf.get(topic);
  assertInvariant(partitionMetadata !== undefined, 'a record for a defined topic', { topic });
  return partitioner({ topic, partitionMetadata, message: { key, value: null } });
}
