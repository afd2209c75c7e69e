// The global ETH → USDT micro-batch window as a pure decision: given the payments pending
// conversion, the threshold in force and the time, which batches close now. No I/O, no clock, no
// random ids of its own, so the same rules run in the processor, in given/when/then tests and in
// a simulation over random payment streams.
//
// The rules, applied again to what is left after each batch until none fires:
// - THRESHOLD: the pending payments sum to at least the threshold → they close as one batch.
// - MAX_WAIT: otherwise, the oldest pending payment has waited at least maxWait → all close.
// - A batch holds at most membersMax payments (the oldest ones). A full batch may therefore sum to
//   less than the threshold; the payments after it are decided again in the same call, so the
//   window never sits on a crossing.
import { assertInvariant } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';

export interface PendingPayment {
  readonly paymentId: string;
  /** USD value after the platform fee: what the threshold counts. */
  readonly usdNet: Decimal;
  readonly ethNet: Decimal;
  readonly receivedAt: Date;
}

export type MicroBatchTrigger = 'THRESHOLD' | 'MAX_WAIT';

export interface MicroBatch {
  readonly batchId: string;
  /** Oldest first, in the order the window was given them. */
  readonly members: readonly PendingPayment[];
  readonly totalUsd: Decimal;
  readonly totalEth: Decimal;
  /** The threshold in force when the batch closed, whatever its trigger. */
  readonly thresholdUsd: Decimal;
  readonly trigger: MicroBatchTrigger;
}

export interface MicroBatchWindowInput {
  /** Ordered by (receivedAt, paymentId), oldest first, each payment once. */
  readonly pending: readonly PendingPayment[];
  readonly thresholdUsd: Decimal;
  readonly maxWaitMs: number;
  readonly membersMax: number;
  readonly now: Date;
  readonly newBatchId: () => string;
}

export interface MicroBatchWindowDecision {
  readonly batches: readonly MicroBatch[];
  /** What stays pending: sums to less than the threshold, and none of it has waited maxWait. */
  readonly remaining: readonly PendingPayment[];
}

/** Sum of the members' USD and ETH, exactly. */
export function totalsOf(payments: readonly PendingPayment[]): { usd: Decimal; eth: Decimal } {
  let usd = new Decimal(0);
  let eth = new Decimal(0);
  for (const payment of payments) {
    usd = usd.plus(payment.usdNet);
    eth = eth.plus(payment.ethNet);
  }
  return { usd, eth };
}

/** The order the window is given its payments in: (receivedAt, paymentId), by code unit. */
export function comparePending(left: PendingPayment, right: PendingPayment): number {
  const byTime = left.receivedAt.getTime() - right.receivedAt.getTime();
  if (byTime !== 0) return byTime;
  return left.paymentId < right.paymentId ? -1 : left.paymentId > right.paymentId ? 1 : 0;
}

export function waitedMs(payment: PendingPayment, now: Date): number {
  return now.getTime() - payment.receivedAt.getTime();
}

function assertInput(input: MicroBatchWindowInput): void {
  assertInvariant(input.thresholdUsd.isFinite() && input.thresholdUsd.greaterThan(0), 'the micro-batch threshold is a positive amount', {
    thresholdUsd: input.thresholdUsd.toFixed(),
  });
  assertInvariant(Number.isSafeInteger(input.maxWaitMs) && input.maxWaitMs >= 0, 'maxWaitMs is a non-negative integer', { maxWaitMs: input.maxWaitMs });
  assertInvariant(Number.isSafeInteger(input.membersMax) && input.membersMax >= 1, 'membersMax is a positive integer', { membersMax: input.membersMax });
  assertInvariant(!Number.isNaN(input.now.getTime()), 'now is a valid date');
  for (let index = 0; index < input.pending.length; index += 1) {
    const payment = input.pending[index];
    assertInvariant(payment !== undefined && payment.usdNet.greaterThan(0) && payment.ethNet.greaterThan(0), 'a pending payment has positive amounts', {
      paymentId: payment?.paymentId,
    });
    const previous = input.pending[index - 1];
    // Strictly increasing also rules out the same payment twice, which would count its money twice.
    assertInvariant(previous === undefined || comparePending(previous, payment) < 0, 'pending payments are ordered oldest first, each once', {
      previous: previous?.paymentId,
      paymentId: payment.paymentId,
    });
  }
}

function closeBatch(members: readonly PendingPayment[], trigger: MicroBatchTrigger, input: MicroBatchWindowInput): MicroBatch {
  const totals = totalsOf(members);
  return { batchId: input.newBatchId(), members, totalUsd: totals.usd, totalEth: totals.eth, thresholdUsd: input.thresholdUsd, trigger };
}

/** Decides which micro-batches close now; see the rules at the top of this file. */
export function closeMicroBatches(input: MicroBatchWindowInput): MicroBatchWindowDecision {
  assertInput(input);
  const batches: MicroBatch[] = [];
  const { pending } = input;
  let restUsd = totalsOf(pending).usd;
  let start = 0;
  // Each pass closes at least one payment, so the loop ends after at most pending.length passes.
  while (start < pending.length) {
    const oldest = pending[start];
    assertInvariant(oldest !== undefined, 'an index inside the list has a payment');
    let trigger: MicroBatchTrigger | undefined;
    if (restUsd.greaterThanOrEqualTo(input.thresholdUsd)) trigger = 'THRESHOLD';
    else if (waitedMs(oldest, input.now) >= input.maxWaitMs) trigger = 'MAX_WAIT';
    if (trigger === undefined) break;
    const batch = closeBatch(pending.slice(start, start + input.membersMax), trigger, input);
    batches.push(batch);
    restUsd = restUsd.minus(batch.totalUsd);
    start += batch.members.length;
  }
  const rest = pending.slice(start);
  assertDecision(input, batches, rest);
  return { batches, remaining: rest };
}

// The same properties the simulation test checks, asserted on every call in production: money
// is conserved across batches and what remains, and nothing left pending should have closed.
function assertDecision(input: MicroBatchWindowInput, batches: readonly MicroBatch[], remaining: readonly PendingPayment[]): void {
  const before = totalsOf(input.pending);
  const after = totalsOf(remaining);
  let count = remaining.length;
  for (const batch of batches) {
    assertInvariant(batch.members.length >= 1 && batch.members.length <= input.membersMax, 'a batch has between 1 and membersMax members', {
      batchId: batch.batchId,
      members: batch.members.length,
    });
    const totals = totalsOf(batch.members);
    assertInvariant(totals.usd.equals(batch.totalUsd) && totals.eth.equals(batch.totalEth), 'batch totals are the exact sums of their members', {
      batchId: batch.batchId,
    });
    after.usd = after.usd.plus(batch.totalUsd);
    after.eth = after.eth.plus(batch.totalEth);
    count += batch.members.length;
  }
  assertInvariant(count === input.pending.length && after.usd.equals(before.usd) && after.eth.equals(before.eth), 'the window conserves payments and money', {
    pending: input.pending.length,
    accounted: count,
  });
  const oldest = remaining[0];
  if (oldest !== undefined) {
    assertInvariant(totalsOf(remaining).usd.lessThan(input.thresholdUsd), 'what stays pending sums to less than the threshold');
    assertInvariant(waitedMs(oldest, input.now) < input.maxWaitMs, 'nothing stays pending past maxWait', { paymentId: oldest.paymentId });
  }
}
