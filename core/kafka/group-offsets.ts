// Commits offsets for a consumer group with no live member: the console's offset reset, and test
// files moving a shared group past what earlier files left on its topics.
//
// kafkajs' admin.setOffsets does this by joining the group with a consumer, pausing it, seeking,
// and waiting for one fetch round to commit the seeks. With every partition paused, that round is a
// sleep of the consumer's maxWaitTime — 5 s, which admin.setOffsets gives no way to change — and it
// moves one topic per call, so a group on three topics cost three joins and 15 s. This is the same
// mechanism (the same public consumer calls, the same refusal of a live group) for all of a group's
// topics in one join, with a short wait.
//
// Why it is safe against a live group: the group's state is read after subscribing and before
// joining, and only an empty (or dead) group is joined; a consumer that joins in between would
// rebalance with this one, and its own first commit is what it processes from, exactly as with
// admin.setOffsets.
import { PipelineError } from '../errors.ts';
import type { KafkaClient } from './kafka-client.ts';

export interface GroupOffsets {
  readonly topic: string;
  readonly partitions: readonly { readonly partition: number; readonly offset: string }[];
}

/** The group has running members: Kafka would rebalance them with the committer, and their next commit would overwrite it anyway. */
export class GroupActiveError extends PipelineError {
  constructor(
    readonly groupId: string,
    readonly state: string,
  ) {
    super(`consumer group ${groupId} has running members (state ${state}); stop its consumers first`, { context: { groupId, state } });
  }
}

// Long enough for the broker to answer the one fetch round; short, because nothing is fetched.
const fetchRoundMs = 50;

export async function commitIdleGroupOffsets(kafka: KafkaClient, groupId: string, offsets: readonly GroupOffsets[]): Promise<void> {
  const wanted = offsets.filter((entry) => entry.partitions.length > 0);
  if (wanted.length === 0) return;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: fetchRoundMs, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: wanted.map((entry) => entry.topic), fromBeginning: true });
    const description = await consumer.describeGroup();
    if (!['Empty', 'Dead'].includes(description.state)) throw new GroupActiveError(groupId, description.state);
    await new Promise<void>((resolve, reject) => {
      // The seeks are committed at the start of the first fetch round (kafkajs applies a seek of an
      // autocommitting consumer as an OffsetCommit), so its FETCH event means they are stored.
      consumer.on(consumer.events.FETCH, () => resolve());
      consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
      // Nothing is ever resolved, so stopping commits nothing over the seeks.
      consumer.run({ autoCommit: true, eachBatchAutoResolve: false, eachBatch: async () => {} }).catch(reject);
      consumer.pause(wanted.map((entry) => ({ topic: entry.topic })));
      for (const entry of wanted) {
        for (const { partition, offset } of entry.partitions) consumer.seek({ topic: entry.topic, partition, offset });
      }
    });
    await consumer.stop();
  } finally {
    await consumer.disconnect();
  }
}
