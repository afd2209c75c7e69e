// Moving dead letters back onto their topic, once their cause is fixed (a client registered, a
// schema deployed, a bug released): the one code path of the `replay` command
// (cli/replay-dead-letters.ts) and of the console's replay (processors/admin/replay-jobs.ts).
// Records go back byte for byte with their original key and headers, minus the dlq-* reason
// headers, plus `replayed-from` (<dlq topic>/<partition>/<offset>) for the audit trail.
//
// Exactly once in effect: a record is produced again before it is marked replayed (the replay
// group's commit, or the console's dead_letter_replays row), so a crash in between replays it a
// second time. That is harmless: every consumer of a replayable topic applies a record under its
// business id (the inbox, processed_messages (consumer, message_id), and the business tables'
// own keys such as webhook_payments.payment_id), in the same transaction as its effect, so the
// second copy is recognised and skipped. Offsets are not what dedupes: a replayed record has a new one.
import type { Admin, IHeaders, KafkaClient } from './kafka-client.ts';
import type { RecordProducer } from './producer-session.ts';
import { readOffsetRanges } from './offset-range-reader.ts';

/** Progress of one replay: records handled so far, of how many. */
export type ReplayProgress = (replayed: number, total: number) => void;

export interface DeadLetterPosition {
  readonly partition: number;
  readonly offset: bigint;
}

export type DeadLetterSelection = { readonly kind: 'all' } | { readonly kind: 'records'; readonly records: readonly DeadLetterPosition[] };

export interface ReplayDeadLettersOptions {
  readonly kafka: KafkaClient;
  /** Connected; not closed here. */
  readonly admin: Admin;
  /** Connected idempotent producer; not closed here. */
  readonly producer: RecordProducer;
  /** The source topic (records come from `<topic>.dlq`). */
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly selection: DeadLetterSelection;
  readonly onProgress?: ReplayProgress;
  /** Records replayed one by one before: an all-replay passes them without producing them again. */
  readonly alreadyReplayed?: (partition: number, offset: string) => boolean;
  /** Called once a selected record is back on its topic (the console remembers it). */
  readonly onRecordReplayed?: (position: { partition: number; offset: string }) => Promise<void>;
}

export interface ReplayOutcome {
  /** Records handled: produced again, or passed because they had been replayed before. */
  readonly replayed: number;
  readonly total: number;
}

/** The consumer group whose committed offset on `<topic>.dlq` marks what has been replayed. */
export function replayGroupOf(topic: string): string {
  return `dlq-replay-${topic}`;
}

export function withoutDeadLetterHeaders(headers: IHeaders | undefined, from: string): IHeaders {
  const kept: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (!name.startsWith('dlq-') && value !== undefined) kept[name] = value;
  kept['replayed-from'] = from;
  return kept;
}

/** Per partition, where the replay group stopped (the low watermark when it never ran) and the end. */
export async function replayWatermarks(admin: Admin, topic: string, deadLetterTopic: string): Promise<{ partition: number; low: bigint; start: bigint; high: bigint; committed: bigint }[]> {
  const ends = await admin.fetchTopicOffsets(deadLetterTopic);
  const committed = await admin.fetchOffsets({ groupId: replayGroupOf(topic), topics: [deadLetterTopic] });
  const committedOf = new Map(committed[0]?.partitions.map((partition) => [partition.partition, BigInt(partition.offset)]) ?? []);
  return ends.map((end) => {
    const committedOffset = committedOf.get(end.partition) ?? -1n;
    const low = BigInt(end.low);
    return { partition: end.partition, low, start: committedOffset < low ? low : committedOffset, high: BigInt(end.high), committed: committedOffset };
  });
}

export async function replayDeadLetterRecords(options: ReplayDeadLettersOptions): Promise<ReplayOutcome> {
  return options.selection.kind === 'all' ? replayAll(options) : replaySelected(options, options.selection.records);
}

async function replayAll(options: ReplayDeadLettersOptions): Promise<ReplayOutcome> {
  const { kafka, producer, topic, deadLetterTopic } = options;
  // A partition still has work when its end lies past where the replay group stopped.
  const remaining = new Map<number, bigint>();
  let total = 0;
  for (const mark of await replayWatermarks(options.admin, topic, deadLetterTopic)) {
    if (mark.high > mark.start) {
      remaining.set(mark.partition, mark.high);
      total += Number(mark.high - mark.start);
    }
  }
  options.onProgress?.(0, total);
  if (remaining.size === 0) return { replayed: 0, total: 0 };

  // disconnect() waits for the fetch in flight, which the broker holds this long once the end is read.
  const consumer = kafka.consumer({ groupId: replayGroupOf(topic), allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  let replayed = 0;
  try {
    await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition);
            if (high === undefined) return;
            if (options.alreadyReplayed?.(partition, message.offset) !== true) {
              await producer.send({
                topic,
                acks: -1,
                messages: [{ key: message.key, value: message.value, headers: withoutDeadLetterHeaders(message.headers, `${deadLetterTopic}/${partition}/${message.offset}`) }],
              });
            }
            // Committed only after the record is back on its topic: a crash replays it again (harmless, see above).
            await consumer.commitOffsets([{ topic: deadLetterTopic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            replayed += 1;
            options.onProgress?.(replayed, total);
            if (BigInt(message.offset) + 1n >= high) remaining.delete(partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return { replayed, total };
}

async function replaySelected(options: ReplayDeadLettersOptions, records: readonly DeadLetterPosition[]): Promise<ReplayOutcome> {
  const { producer, topic, deadLetterTopic } = options;
  const wanted = new Set(records.map((record) => `${record.partition}/${record.offset}`));
  const total = wanted.size;
  options.onProgress?.(0, total);
  // One range per partition, from its first selected offset to its last.
  const ranges = new Map<number, { partition: number; from: bigint; to: bigint }>();
  for (const record of records) {
    const range = ranges.get(record.partition);
    if (range === undefined) ranges.set(record.partition, { partition: record.partition, from: record.offset, to: record.offset + 1n });
    else ranges.set(record.partition, { partition: record.partition, from: range.from < record.offset ? range.from : record.offset, to: range.to > record.offset + 1n ? range.to : record.offset + 1n });
  }
  const read = await readOffsetRanges({ kafka: options.kafka, admin: options.admin, topic: deadLetterTopic, ranges: [...ranges.values()] });
  let replayed = 0;
  for (const record of read) {
    if (!wanted.has(`${record.partition}/${record.offset}`)) continue;
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: record.key, value: record.value, headers: withoutDeadLetterHeaders(record.headers, `${deadLetterTopic}/${record.partition}/${record.offset}`) }],
    });
    // Remembered only after the record is back on its topic: a crash replays it again (harmless, see above).
    await options.onRecordReplayed?.({ partition: record.partition, offset: record.offset });
    replayed += 1;
    options.onProgress?.(replayed, total);
  }
  return { replayed, total };
}
