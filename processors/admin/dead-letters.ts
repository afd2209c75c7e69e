// The depth of each dead-letter topic, read through the Kafka admin client: per partition the
// records kept and how many have not been moved back yet — past the replay group's committed
// offset (`dlq-replay-<topic>`: the `replay` command and the console's replay of all), minus the
// records the console replayed one by one above it (dead_letter_replays). The records themselves
// are read by dead-letter-records.ts.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { Admin } from '../../core/kafka/kafka-client.ts';
import { deadLetterSuffix, topicDefinitions } from '../../topics/topics.ts';
import type { DeadLetterTopicItem } from './api-schemas.ts';

export const deadLetterTopics: readonly string[] = topicDefinitions
  .map((topic) => topic.name)
  .filter((name) => name.endsWith(deadLetterSuffix))
  .sort();

/** limit + 1 topics after `afterTopic` (the extra says there is a next page), sorted by name. */
const countRow = z.object({ replayed: z.number().int() });

export async function readDeadLetterDepths(admin: Admin, database: CommonQueryMethods, request: { readonly afterTopic: string | null; readonly limit: number }): Promise<DeadLetterTopicItem[]> {
  const topics = deadLetterTopics.filter((topic) => request.afterTopic === null || topic > request.afterTopic).slice(0, request.limit + 1);
  const items: DeadLetterTopicItem[] = [];
  for (const topic of topics) {
    const sourceTopic = topic.slice(0, -deadLetterSuffix.length);
    const ends = await admin.fetchTopicOffsets(topic);
    const replayed = await admin.fetchOffsets({ groupId: `dlq-replay-${sourceTopic}`, topics: [topic] });
    const replayedOf = new Map(replayed[0]?.partitions.map((partition) => [partition.partition, BigInt(partition.offset)]) ?? []);
    const partitions = [];
    for (const end of ends) {
      const high = BigInt(end.high);
      const low = BigInt(end.low);
      const committed = replayedOf.get(end.partition) ?? -1n;
      const start = committed < low ? low : committed;
      const { replayed: oneByOne } = await database.one(sql.type(countRow)`
        SELECT count(*)::int4 AS replayed FROM dead_letter_replays
        WHERE dead_letter_topic = ${topic} AND kafka_partition = ${end.partition} AND kafka_offset >= ${start.toString()}::int8 AND kafka_offset < ${end.high}::int8`);
      const notReplayed = (high > start ? high - start : 0n) - BigInt(oneByOne);
      partitions.push({ partition: end.partition, records: (high - low).toString(), not_replayed: (notReplayed > 0n ? notReplayed : 0n).toString() });
    }
    partitions.sort((a, b) => a.partition - b.partition);
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
