// Consumer groups with their lag per partition, read through the Kafka admin client: the group ids
// are listed and sorted, the page after the cursor is described, and each group's committed offsets
// are set against its topics' end offsets. Only the page's groups are described, so a page costs a
// bounded number of admin requests whatever the cluster holds. Offsets stay strings (int64).
import type { Admin } from '../../core/kafka/kafka-client.ts';
import type { ConsumerGroupListItem } from './api-schemas.ts';

export interface GroupPageRequest {
  readonly afterGroupId: string | null;
  readonly limit: number;
}

/** limit + 1 groups (the extra says there is a next page), sorted by group id. */
export async function readConsumerGroups(admin: Admin, request: GroupPageRequest): Promise<ConsumerGroupListItem[]> {
  const { groups } = await admin.listGroups();
  const ids = groups
    .map((group) => group.groupId)
    .filter((groupId) => request.afterGroupId === null || groupId > request.afterGroupId)
    .sort()
    .slice(0, request.limit + 1);
  if (ids.length === 0) return [];
  const described = await admin.describeGroups(ids);
  const ends = new Map<string, Map<number, { high: bigint; low: bigint }>>();
  const endsOf = async (topic: string) => {
    const known = ends.get(topic);
    if (known !== undefined) return known;
    const offsets = new Map((await admin.fetchTopicOffsets(topic)).map((offset) => [offset.partition, { high: BigInt(offset.high), low: BigInt(offset.low) }]));
    ends.set(topic, offsets);
    return offsets;
  };
  const items: ConsumerGroupListItem[] = [];
  for (const groupId of ids) {
    const description = described.groups.find((group) => group.groupId === groupId);
    const committed = await admin.fetchOffsets({ groupId });
    const partitions = [];
    for (const topic of committed) {
      const topicEnds = await endsOf(topic.topic);
      for (const partition of topic.partitions) {
        const end = topicEnds.get(partition.partition) ?? { high: 0n, low: 0n };
        const offset = BigInt(partition.offset);
        // Nothing committed: the group would start from the earliest record still kept.
        const lag = offset < 0n ? end.high - end.low : end.high > offset ? end.high - offset : 0n;
        partitions.push({ topic: topic.topic, partition: partition.partition, committed_offset: offset.toString(), end_offset: end.high.toString(), lag: lag.toString() });
      }
    }
    partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    items.push({
      group_id: groupId,
      state: description?.state ?? 'Unknown',
      members: description?.members.length ?? 0,
      total_lag: partitions.reduce((total, partition) => total + BigInt(partition.lag), 0n).toString(),
      partitions,
    });
  }
  return items;
}
