// Consumer groups with their lag per partition, read through the Kafka admin client: the group ids
// are listed and sorted, the page after the cursor is described, and each group's committed offsets
// are set against its topics' end offsets. Only the page's groups are described, so a page costs a
// bounded number of admin requests whatever the cluster holds. Offsets stay strings (int64).
import type { Admin } from '../../core/kafka/kafka-client.ts';
import type { ConsumerGroupListItem } from './api-schemas.ts';
import { lagOf, type PartitionEnds } from './consumer-lag-plan.ts';

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
  const endsByTopic = new Map<string, readonly PartitionEnds[]>();
  const items: ConsumerGroupListItem[] = [];
  for (const groupId of ids) {
    const description = described.groups.find((group) => group.groupId === groupId);
    const committed = (await admin.fetchOffsets({ groupId })).flatMap(({ topic, partitions }) => partitions.map((entry) => ({ topic, partition: entry.partition, offset: entry.offset })));
    for (const { topic } of committed) {
      if (!endsByTopic.has(topic)) endsByTopic.set(topic, await admin.fetchTopicOffsets(topic));
    }
    // The same arithmetic as the exported lag metric (consumer-lag-plan.ts), so the console and the alerts agree.
    const partitions = lagOf(groupId, committed, endsByTopic).map((lag) => {
      const offset = committed.find((entry) => entry.topic === lag.topic && entry.partition === lag.partition)?.offset ?? '-1';
      const end = endsByTopic.get(lag.topic)?.find((entry) => entry.partition === lag.partition)?.high ?? '0';
      return { topic: lag.topic, partition: lag.partition, committed_offset: offset, end_offset: end, lag: String(lag.lag) };
    });
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
