// Reads given offset ranges of a topic's partitions, for the operator's tools (the console's
// dead-letter browser and the replay of selected dead letters). kafkajs 2 can only read through a
// consumer group — it has no manual partition assignment — so the reader uses a throwaway group
// (a random id, one member, so it is assigned every partition at its first join): it starts at the
// end of every partition (fromBeginning false, nothing committed), seeks each wanted partition to
// its range's start (kafkajs keeps a seek made before the assignment and applies it at the first
// fetch), reads up to each range's end, and deletes the group. autoCommit is off, so the group
// never holds an offset: no other group's position moves, and nothing is left in the group list.
// (admin.setOffsets would cost a second group join: kafkajs implements it with a consumer.)
import { randomUUID } from 'node:crypto';
import type { Admin, IHeaders, KafkaClient } from './kafka-client.ts';

export interface OffsetRange {
  readonly partition: number;
  /** The first offset read. */
  readonly from: bigint;
  /** The offset after the last one read (exclusive); at most the partition's high watermark. */
  readonly to: bigint;
}

export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  /** Kafka's record timestamp, milliseconds since the epoch, as text. */
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

export interface ReadRangesOptions {
  readonly kafka: KafkaClient;
  readonly admin: Admin;
  readonly topic: string;
  readonly ranges: readonly OffsetRange[];
  /** Gives up (rejects) when the ranges are not read by then: a broker that stops answering must not hold a request forever. */
  readonly timeoutMs?: number;
}

/** The records of the ranges, in (partition, offset) order. Empty ranges cost no consumer at all. */
export async function readOffsetRanges(options: ReadRangesOptions): Promise<ReadRecord[]> {
  const { kafka, admin, topic } = options;
  const wanted = new Map(options.ranges.filter((range) => range.to > range.from).map((range) => [range.partition, range]));
  if (wanted.size === 0) return [];
  const groupId = `admin-reader-${randomUUID()}`;
  const records: ReadRecord[] = [];
  // disconnect() waits for the fetch in flight, which the broker holds this long once the end is read.
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  let deadline: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    const remaining = new Map(wanted);
    let settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const timeoutMs = options.timeoutMs ?? 15_000;
    deadline = setTimeout(() => settle?.reject(new Error(`reading ${topic} did not reach the requested offsets within ${timeoutMs} ms`)), timeoutMs);
    await consumer.run({
      autoCommit: false,
      // Collecting is synchronous; kafkajs wants a promise back.
      eachMessage: ({ partition, message }) => {
        const range = remaining.get(partition);
        if (range === undefined) return Promise.resolve();
        const offset = BigInt(message.offset);
        if (offset >= range.from && offset < range.to) {
          records.push({ partition, offset: message.offset, timestamp: message.timestamp, key: message.key ?? null, value: message.value ?? null, headers: message.headers ?? {} });
        }
        if (offset + 1n >= range.to) remaining.delete(partition);
        if (remaining.size === 0) settle?.resolve();
        return Promise.resolve();
      },
    });
    for (const range of wanted.values()) consumer.seek({ topic, partition: range.partition, offset: range.from.toString() });
    await done;
  } finally {
    clearTimeout(deadline);
    await consumer.disconnect();
    // The throwaway group holds no offsets, but the broker lists it until it expires: deleted now.
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return records.sort((a, b) => (a.partition === b.partition ? (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1) : a.partition - b.partition));
}
