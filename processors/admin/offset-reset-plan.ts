// An offset reset as a pure plan: per partition, where the group stands, where it would go and by
// how much, and a confirm token that is the plan's hash. The console shows the dry run, the
// operator confirms with its token, and the apply recomputes the plan and refuses (409
// plan_changed) when the token no longer matches — the group committed, records arrived, a
// partition was added — so what is applied is exactly what was shown.
import { createHash } from 'node:crypto';

export type ResetTarget = 'earliest' | 'latest' | { readonly timestamp: string };

export interface PartitionEnds {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export interface PartitionReset {
  readonly partition: number;
  /** The group's committed offset; '-1' when it has none on that partition. */
  readonly current: string;
  readonly target: string;
  readonly delta: string;
}

/**
 * The target of each partition: the log start, its end, or the first offset at or after the
 * timestamp (`byTimestamp`, Kafka's answer; -1 there means no record that late: the end).
 */
export function targetOf(to: ResetTarget, ends: PartitionEnds, byTimestamp: string | undefined): bigint {
  if (to === 'earliest') return BigInt(ends.low);
  if (to === 'latest') return BigInt(ends.high);
  const offset = BigInt(byTimestamp ?? '-1');
  if (offset < 0n) return BigInt(ends.high);
  return offset < BigInt(ends.low) ? BigInt(ends.low) : offset;
}

/**
 * Per partition of the topic, sorted: current, target, and target − current. A partition the group
 * never committed counts from the log start (where a group reading from the beginning, as ours do,
 * would begin), so the delta says how many records the reset skips (positive) or re-reads (negative).
 */
export function planOffsetReset(to: ResetTarget, ends: readonly PartitionEnds[], committed: ReadonlyMap<number, string>, byTimestamp: ReadonlyMap<number, string>): PartitionReset[] {
  return [...ends]
    .sort((a, b) => a.partition - b.partition)
    .map((end) => {
      const current = committed.get(end.partition) ?? '-1';
      const target = targetOf(to, end, byTimestamp.get(end.partition));
      const from = BigInt(current) < 0n ? BigInt(end.low) : BigInt(current);
      return { partition: end.partition, current, target: target.toString(), delta: (target - from).toString() };
    });
}

/** sha256 of the group, topic and every partition's current and target: changes whenever the plan would. */
export function confirmTokenOf(group: string, topic: string, partitions: readonly PartitionReset[]): string {
  const canonical = JSON.stringify([group, topic, partitions.map((partition) => [partition.partition, partition.current, partition.target])]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
