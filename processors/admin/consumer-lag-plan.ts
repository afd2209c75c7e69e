// Consumer lag from what Kafka reports: per group, topic and partition, the records between the
// group's committed offset and the partition's high watermark. Pure, so the edge cases are tested
// without a broker; consumer-lag.ts reads the offsets and exports the figures.

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** Kafka's committed offset as text; '-1' when the group has committed nothing there. */
  readonly offset: string;
}

export interface PartitionEnds {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export interface PartitionLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** Records not yet consumed (a count, never money): high watermark − committed, at least 0. */
  readonly lag: number;
}

/**
 * The lag of one group on each partition it has an offset for. A partition with no commit counts
 * from its low watermark (everything still in the log is unread: what a group reading from the
 * beginning, as ours do, has ahead of it). A committed offset below the low watermark (records
 * deleted by retention before they were read) counts from the low watermark too: those records are
 * gone, not waiting. A partition whose ends are unknown (the topic was deleted) is left out.
 */
export function lagOf(group: string, committed: readonly CommittedOffset[], endsByTopic: ReadonlyMap<string, readonly PartitionEnds[]>): PartitionLag[] {
  const lags: PartitionLag[] = [];
  for (const entry of committed) {
    const ends = endsByTopic.get(entry.topic)?.find((candidate) => candidate.partition === entry.partition);
    if (ends === undefined) continue;
    const high = BigInt(ends.high);
    const low = BigInt(ends.low);
    const offset = BigInt(entry.offset);
    const from = offset < low ? low : offset;
    const lag = high > from ? high - from : 0n;
    lags.push({ group, topic: entry.topic, partition: entry.partition, lag: Number(lag) });
  }
  return lags;
}
