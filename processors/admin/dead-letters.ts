// The depth of each dead-letter topic, read through the Kafka admin client: per partition the
// records kept and how many the `replay` command (cli/replay-dead-letters.ts, group
// `dlq-replay-<topic>`) has not moved back yet. Reading the records themselves (decoded through the
// registry, with their reason headers) is not here yet: kafkajs reads only through a consumer
// group, and a group per request would be slow and litter the group list.
import type { Admin } from '../../core/kafka/kafka-client.ts';
import { deadLetterSuffix, topicDefinitions } from '../../topics/topics.ts';
import type { DeadLetterTopicItem } from './api-schemas.ts';

export const deadLetterTopics: readonly string[] = topicDefinitions
  .map((topic) => topic.name)
  .filter((name) => name.endsWith(deadLetterSuffix))
  .sort();

/** limit + 1 topics after `afterTopic` (the extra says there is a next page), sorted by name. */
export async function readDeadLetterDepths(admin: Admin, request: { readonly afterTopic: string | null; readonly limit: number }): Promise<DeadLetterTopicItem[]> {
  const topics = deadLetterTopics.filter((topic) => request.afterTopic === null || topic > request.afterTopic).slice(0, request.limit + 1);
  const items: DeadLetterTopicItem[] = [];
  for (const topic of topics) {
    const sourceTopic = topic.slice(0, -deadLetterSuffix.length);
    const ends = await admin.fetchTopicOffsets(topic);
    const replayed = await admin.fetchOffsets({ groupId: `dlq-replay-${sourceTopic}`, topics: [topic] });
    const replayedOf = new Map(replayed[0]?.partitions.map((partition) => [partition.partition, BigInt(partition.offset)]) ?? []);
    const partitions = ends
      .map((end) => {
        const high = BigInt(end.high);
        const low = BigInt(end.low);
        const committed = replayedOf.get(end.partition) ?? -1n;
        const start = committed < 0n ? low : committed;
        return { partition: end.partition, records: (high - low).toString(), not_replayed: (high > start ? high - start : 0n).toString() };
      })
      .sort((a, b) => a.partition - b.partition);
    items.push({
      topic,
      source_topic: sourceTopic,
      records: partitions.reduce((total, partition) => total + BigInt(partition.records), 0n).toString(),
      not_replayed: partitions.reduce((total, partition) => total + BigInt(partition.not_replayed), 0n).toString(),
      partitions,
    });
  }
  return items;
}
