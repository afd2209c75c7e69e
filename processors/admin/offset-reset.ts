// POST /api/consumer-groups/:group/offset-reset against Kafka: the group and topic must exist
// (404), the group must have no members (409 group_active: Kafka refuses to move a live group's
// offsets, and a running consumer would overwrite them with its next commit anyway), then the plan
// (offset-reset-plan.ts) is shown (dry run) or, if its confirm token still matches, applied with
// commitIdleGroupOffsets (core/kafka/group-offsets.ts), which itself refuses a group that gained a
// member in between; that is a 409 group_active too.
import { rejection } from '../../core/http/http-errors.ts';
import { commitIdleGroupOffsets, GroupActiveError } from '../../core/kafka/group-offsets.ts';
import type { Admin, KafkaClient } from '../../core/kafka/kafka-client.ts';
import type { OffsetResetPlanBody } from './api-schemas.ts';
import { confirmTokenOf, planOffsetReset, type ResetTarget } from './offset-reset-plan.ts';

export interface OffsetResetRequest {
  readonly group: string;
  readonly topic: string;
  readonly to: ResetTarget;
  readonly dryRun: boolean;
  readonly confirmToken?: string;
}

function groupActive(group: string, members: number): Error {
  return rejection(409, 'group_active', 'group', 'a group with no running members', `Group ${group} has ${members} running member(s); stop its consumers before resetting its offsets.`);
}

async function planOf(admin: Admin, request: OffsetResetRequest): Promise<OffsetResetPlanBody> {
  const { group, topic } = request;
  const { groups } = await admin.listGroups();
  if (!groups.some((candidate) => candidate.groupId === group)) throw rejection(404, 'group_not_found', 'group', 'a consumer group of the cluster', `There is no consumer group ${group}.`);
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw rejection(404, 'topic_not_found', 'topic', 'a topic of the cluster', `There is no topic ${topic}.`);
  const description = (await admin.describeGroups([group])).groups.find((candidate) => candidate.groupId === group);
  const members = description?.members.length ?? 0;
  if (members > 0) throw groupActive(group, members);
  const ends = await admin.fetchTopicOffsets(topic);
  const committed = new Map((await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]?.partitions.map((entry) => [entry.partition, entry.offset]) ?? []);
  const byTimestamp =
    typeof request.to === 'object'
      ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, Date.parse(request.to.timestamp))).map((entry) => [entry.partition, entry.offset]))
      : new Map<number, string>();
  const partitions = planOffsetReset(request.to, ends, committed, byTimestamp);
  return { group, topic, partitions, confirm_token: confirmTokenOf(group, topic, partitions), applied: false };
}

export async function resetOffsets(kafka: KafkaClient, admin: Admin, request: OffsetResetRequest): Promise<OffsetResetPlanBody> {
  const plan = await planOf(admin, request);
  if (request.dryRun) return plan;
  if (request.confirmToken !== plan.confirm_token) {
    throw rejection(409, 'plan_changed', 'confirm_token', 'the confirm_token of the current plan', 'The offsets have moved since the dry run: look at the new plan and confirm it.');
  }
  try {
    await commitIdleGroupOffsets(kafka, request.group, [{ topic: request.topic, partitions: plan.partitions.map((partition) => ({ partition: partition.partition, offset: partition.target })) }]);
  } catch (error) {
    if (error instanceof GroupActiveError) throw groupActive(request.group, 1);
    throw error;
  }
  return { ...plan, applied: true };
}
