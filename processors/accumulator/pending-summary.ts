// The accumulator's running summary of the global window, as pure functions: how many payments
// are pending, their USD net sum and the oldest received_at. It lets a notification cost O(1)
// (add what the notification says arrived) instead of O(pending) (read every pending row), and it
// decides whether the full evaluation (micro-batch-evaluation.ts) can possibly close anything.
//
// The summary may only ever OVER-estimate the window between two exact reads: every row that
// becomes pending is announced by a notification (sent in the writer's transaction, delivered on
// commit), and rows only leave pending_conversion through an evaluation — ours, which resets the
// summary to the exact remainder, or another instance's, which leaves ours too high. Too high costs
// one wasted full evaluation (which resets it); too low could miss a crossing, and cannot happen.
// mayFire is monotone in the direction that matters: a larger sum or an older oldest never turns
// "may fire" into "cannot fire" (the fast-check property in pending-summary.test.ts).
import { Decimal } from '../../core/money.ts';
import type { LedgerPendingArrival } from '../../db/ledger-notifications.ts';

export interface PendingSummary {
  readonly count: number;
  readonly usdNet: Decimal;
  /** null when nothing is pending. */
  readonly oldestReceivedAt: Date | null;
}

export const emptySummary: PendingSummary = { count: 0, usdNet: new Decimal(0), oldestReceivedAt: null };

function earlier(left: Date | null, right: Date | null): Date | null {
  if (left === null) return right;
  if (right === null) return left;
  return right.getTime() < left.getTime() ? right : left;
}

/** The exact summary of payments read from the ledger (an evaluation's remainder). */
export function summaryOf(payments: readonly { readonly usdNet: Decimal; readonly receivedAt: Date }[]): PendingSummary {
  let summary = emptySummary;
  for (const payment of payments) summary = addArrival(summary, { count: 1, usdNet: payment.usdNet, oldestReceivedAt: payment.receivedAt });
  return summary;
}

/** What a notification announced became pending, added: O(1). */
export function addArrival(summary: PendingSummary, arrival: LedgerPendingArrival): PendingSummary {
  return {
    count: summary.count + arrival.count,
    usdNet: summary.usdNet.plus(arrival.usdNet),
    oldestReceivedAt: earlier(summary.oldestReceivedAt, arrival.oldestReceivedAt),
  };
}

/** Two summaries of disjoint (or, when in doubt, overlapping: an over-estimate) sets of rows. */
export function mergeSummaries(left: PendingSummary, right: PendingSummary): PendingSummary {
  return {
    count: left.count + right.count,
    usdNet: left.usdNet.plus(right.usdNet),
    oldestReceivedAt: earlier(left.oldestReceivedAt, right.oldestReceivedAt),
  };
}

export interface FireRules {
  readonly thresholdUsd: Decimal;
  readonly maxWaitMs: number;
  readonly now: Date;
}

/**
 * Whether the window's triggers (micro-batch-window.ts: THRESHOLD when the pending sum reaches the
 * threshold, MAX_WAIT when the oldest has waited maxWait) could fire on the pending rows this
 * summary over-estimates. False means the full evaluation would close nothing and can be skipped.
 * A window held by the exchange's range keeps its due rows pending, so it keeps answering true and
 * every trigger evaluates in full, as before the summary existed.
 */
export function mayFire(summary: PendingSummary, rules: FireRules): boolean {
  if (summary.count === 0) return false;
  if (summary.usdNet.greaterThanOrEqualTo(rules.thresholdUsd)) return true;
  return summary.oldestReceivedAt !== null && rules.now.getTime() - summary.oldestReceivedAt.getTime() >= rules.maxWaitMs;
}
