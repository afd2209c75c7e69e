// GET /api/dead-letters/:topic/records: a dead-letter topic's records, oldest first, decoded
// through the schema registry, with their headers (the dlq-* reasons among them) as UTF-8 text and
// whether each has been replayed. Read with the throwaway-group reader (core/kafka/
// offset-range-reader.ts); `replayed` is "below the replay group's committed offset" (what the
// `replay` command and an all-replay moved) or "replayed one by one from the console"
// (dead_letter_replays, migration 022).
//
// Paging: the cursor holds each partition's next offset. A page reads at most `limit` records from
// each partition's position and merges them by (timestamp, partition, offset), so taking the first
// `limit` of the merge is exactly the next `limit` records in that order, and the positions after
// what was taken are the next cursor.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { Admin, IHeaders, KafkaClient } from '../../core/kafka/kafka-client.ts';
import { replayWatermarks } from '../../core/kafka/dead-letter-replay.ts';
import { readOffsetRanges, type ReadRecord } from '../../core/kafka/offset-range-reader.ts';
import { toReadableJson } from '../../schemas/sample-value.ts';
import type { AvroSerde } from '../../schemas/registry.ts';
import { deadLetterSuffix } from '../../topics/topics.ts';
import { decodeCursor, encodeCursor } from './api-pagination.ts';
import type { DeadLetterRecordItem } from './api-schemas.ts';

const positionsPattern = /^\d{1,5}:\d{1,19}(,\d{1,5}:\d{1,19}){0,99}$/;

/** The cursor's per-partition next offsets; 400 naming `cursor` when it is not one this list gave. */
export function decodePositions(cursor: string | undefined): Map<number, bigint> | null {
  if (cursor === undefined) return null;
  const [text] = decodeCursor(cursor, [positionsPattern]);
  return new Map((text ?? '').split(',').map((entry) => {
    const [partition, offset] = entry.split(':');
    return [Number(partition), BigInt(offset ?? '0')] as const;
  }));
}

export function encodePositions(positions: ReadonlyMap<number, bigint>): string {
  return encodeCursor([[...positions.entries()].sort((a, b) => a[0] - b[0]).map(([partition, offset]) => `${partition}:${offset}`).join(',')]);
}

export function headersAsText(headers: IHeaders): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    text[name] = (Array.isArray(value) ? value : [value]).map((part) => part.toString('utf8')).join(', ');
  }
  return text;
}

/** Oldest first across partitions: record time, then partition and offset. */
function compareRecords(a: ReadRecord, b: ReadRecord): number {
  const byTime = BigInt(a.timestamp) - BigInt(b.timestamp);
  if (byTime !== 0n) return byTime < 0n ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return BigInt(a.offset) < BigInt(b.offset) ? -1 : 1;
}

const replayedRow = z.object({ kafka_partition: z.number().int(), kafka_offset: z.string() });

export interface DeadLetterPageRequest {
  readonly kafka: KafkaClient;
  readonly admin: Admin;
  readonly serde: AvroSerde;
  readonly database: CommonQueryMethods;
  readonly deadLetterTopic: string;
  readonly positions: ReadonlyMap<number, bigint> | null;
  readonly limit: number;
}

export async function readDeadLetterPage(request: DeadLetterPageRequest): Promise<{ items: DeadLetterRecordItem[]; next_cursor: string | null }> {
  const { deadLetterTopic, limit } = request;
  const sourceTopic = deadLetterTopic.slice(0, -deadLetterSuffix.length);
  const marks = await replayWatermarks(request.admin, sourceTopic, deadLetterTopic);
  const starts = new Map(marks.map((mark) => {
    const asked = request.positions?.get(mark.partition) ?? mark.low;
    return [mark.partition, asked < mark.low ? mark.low : asked] as const;
  }));
  const ranges = marks.map((mark) => {
    const from = starts.get(mark.partition) ?? mark.low;
    const to = from + BigInt(limit) < mark.high ? from + BigInt(limit) : mark.high;
    return { partition: mark.partition, from, to };
  });
  const read = await readOffsetRanges({ kafka: request.kafka, admin: request.admin, topic: deadLetterTopic, ranges });
  const page = read.sort(compareRecords).slice(0, limit);

  const next = new Map(starts);
  for (const record of page) next.set(record.partition, BigInt(record.offset) + 1n);
  const more = marks.some((mark) => (next.get(mark.partition) ?? mark.high) < mark.high);

  const committedOf = new Map(marks.map((mark) => [mark.partition, mark.committed]));
  const replayedOneByOne = new Set(
    page.length === 0
      ? []
      : (
          await request.database.any(sql.type(replayedRow)`
            SELECT kafka_partition, kafka_offset::text AS kafka_offset FROM dead_letter_replays
            WHERE dead_letter_topic = ${deadLetterTopic}
              AND (kafka_partition, kafka_offset) IN (SELECT * FROM unnest(${sql.array(page.map((record) => record.partition), 'int4')}::int4[], ${sql.array(page.map((record) => record.offset), 'int8')}::int8[]))`)
        ).map((row) => `${row.kafka_partition}/${row.kafka_offset}`),
  );

  const items: DeadLetterRecordItem[] = [];
  for (const record of page) {
    let value: unknown = null;
    let decodeError: string | null = null;
    if (record.value !== null) {
      try {
        value = toReadableJson(await request.serde.decode(record.value));
      } catch (error) {
        // Often the very reason it is a dead letter: shown raw, with why it does not decode.
        decodeError = error instanceof Error ? error.message : String(error);
      }
    }
    items.push({
      partition: record.partition,
      offset: record.offset,
      timestamp: new Date(Number(record.timestamp)).toISOString(),
      key: record.key === null ? null : record.key.toString('utf8'),
      headers: headersAsText(record.headers),
      value: decodeError === null ? value : null,
      raw_base64: decodeError === null || record.value === null ? null : record.value.toString('base64'),
      decode_error: decodeError,
      replayed: BigInt(record.offset) < (committedOf.get(record.partition) ?? -1n) || replayedOneByOne.has(`${record.partition}/${record.offset}`),
    });
  }
  return { items, next_cursor: more ? encodePositions(next) : null };
}
