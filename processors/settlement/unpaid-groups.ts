// Settlement's running state of the per-client window, as pure functions over one group: what is
// free and unpaid in it, its oldest credit and its client's threshold — enough to tell whether a
// full decision (payout-window.ts) could possibly pay it. The state may only OVER-estimate how
// close a group is to being due between two exact reads: a larger sum, an older oldest credit,
// an unknown threshold (treated as "may be due"). mayBeDue is monotone in that direction, so an
// over-estimate can cost a wasted decision but never hide a due group
// (incremental-payout-window.ts has the proof; unpaid-groups.test.ts the property).
import { Decimal } from '../../core/money.ts';
import type { GroupKey, GroupSummary } from './payout-window.ts';

export interface GroupState {
  readonly key: GroupKey;
  readonly unpaidUsdt: Decimal;
  readonly oldestCreditedAt: Date;
  /** null: the client has no threshold (instant strategy), any amount is due; undefined: unknown since a configuration change. */
  readonly thresholdUsd: Decimal | null | undefined;
}

/** Credits that arrived in a group, folded: their sum, the oldest, the threshold read with them. */
export interface GroupArrival {
  readonly key: GroupKey;
  readonly usdt: Decimal;
  readonly oldestCreditedAt: Date;
  readonly thresholdUsd: Decimal | null | undefined;
}

/** An exact read of a group's totals (a rebuild, or a decision's read under the lock). */
export function stateOfSummary(summary: GroupSummary): GroupState {
  return { key: summary.key, unpaidUsdt: summary.unpaidUsdt, oldestCreditedAt: summary.oldestCreditedAt, thresholdUsd: summary.thresholdUsd };
}

/** Adds an arrival: the sum grows, the oldest can only move earlier, the threshold is the one read with the arrival (the newest known). */
export function addArrival(state: GroupState | undefined, arrival: GroupArrival): GroupState {
  if (state === undefined) return { key: arrival.key, unpaidUsdt: arrival.usdt, oldestCreditedAt: arrival.oldestCreditedAt, thresholdUsd: arrival.thresholdUsd };
  return {
    key: state.key,
    unpaidUsdt: state.unpaidUsdt.plus(arrival.usdt),
    oldestCreditedAt: arrival.oldestCreditedAt.getTime() < state.oldestCreditedAt.getTime() ? arrival.oldestCreditedAt : state.oldestCreditedAt,
    thresholdUsd: arrival.thresholdUsd,
  };
}

/** When the group reaches PAYOUT_MAX_AGE, in ms since the epoch. */
export function maxAgeAtMs(state: GroupState, maxAgeMs: number): number {
  return state.oldestCreditedAt.getTime() + maxAgeMs;
}

/**
 * Whether the full decision could find the group due (payout-window.ts, triggerOf: max age, then
 * the threshold; an operator's request is looked up apart). False means it would leave the group
 * waiting below its threshold, so it need not be read at all.
 */
export function mayBeDue(state: GroupState, maxAgeMs: number, now: Date): boolean {
  if (state.thresholdUsd === undefined || state.thresholdUsd === null) return true;
  if (now.getTime() >= maxAgeAtMs(state, maxAgeMs)) return true;
  return state.unpaidUsdt.gte(state.thresholdUsd);
}

/** What is left of a group after a decision paid some of its exactly read credits; undefined when none is. */
export function remainderAfter(exact: GroupSummary, paid: { readonly usdt: Decimal; readonly credits: number }): GroupState | undefined {
  // By count, not by amount: a credit of 0 USDT left behind still reaches PAYOUT_MAX_AGE.
  if (paid.credits >= exact.creditCount) return undefined;
  // The oldest paid credit may have been the oldest: keeping its time over-estimates the age.
  return { ...stateOfSummary(exact), unpaidUsdt: Decimal.max(exact.unpaidUsdt.minus(paid.usdt), 0) };
}
