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
// - When the exchange's range for ETH → USDT is known, a batch is never formed that the exchange
//   would refuse (a refused conversion would fail, its payments would come back, and the same
//   batch would form again — a loop that moves no money):
//   - a batch takes payments oldest first while their ETH fits under the range's maximum (first
//     fit: a payment that does not fit waits for the next batch), so a large pending sum closes as
//     several conversions;
//   - a batch below the range's minimum is not formed: what is left waits, held as
//     below_exchange_minimum, until more payments arrive (whatever the trigger);
//   - a single payment above the maximum can never be converted by this exchange: it is set aside,
//     held as above_exchange_maximum for an operator, and does not count toward the threshold.
//   An unknown range (the exchange did not answer) cuts batches by membersMax alone; the
//   connector still checks the range before it creates an exchange.
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

/** The exchange's accepted ETH amounts for one ETH → USDT exchange. */
export interface ConversionRange {
  readonly minEth: Decimal;
  /** null: the exchange names no maximum. */
  readonly maxEth: Decimal | null;
}

export interface MicroBatchWindowInput {
  /** Ordered by (receivedAt, paymentId), oldest first, each payment once. */
  readonly pending: readonly PendingPayment[];
  readonly thresholdUsd: Decimal;
  readonly maxWaitMs: number;
  readonly membersMax: number;
  readonly now: Date;
  readonly newBatchId: () => string;
  /** undefined: not known now; batches are then cut by membersMax alone. */
  readonly range?: ConversionRange | undefined;
}

export type WindowHoldState = 'below_exchange_minimum' | 'above_exchange_maximum';

/** Payments that are due (or can never be due) but wait because of the exchange's range. */
export interface WindowHold {
  readonly state: WindowHoldState;
  readonly reason: string;
  /** Oldest first. */
  readonly payments: readonly PendingPayment[];
}

export interface MicroBatchWindowDecision {
  readonly batches: readonly MicroBatch[];
  /**
   * What stays pending, oldest first, held payments included. Apart from the held ones it sums to
   * less than the threshold, and none of it has waited maxWait.
   */
  readonly remaining: readonly PendingPayment[];
  /** At most one hold per state. */
  readonly holds: readonly WindowHold[];
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

/** Oldest first, at most membersMax, and, first fit, as much ETH as fits under the range's maximum. */
function takeMembers(candidates: readonly PendingPayment[], input: MicroBatchWindowInput): PendingPayment[] {
  const maxEth = input.range?.maxEth ?? null;
  const members: PendingPayment[] = [];
  let eth = new Decimal(0);
  for (const payment of candidates) {
    if (members.length >= input.membersMax) break;
    if (maxEth !== null && eth.plus(payment.ethNet).greaterThan(maxEth)) continue;
    members.push(payment);
    eth = eth.plus(payment.ethNet);
  }
  return members;
}

function rangeText(range: ConversionRange): string {
  return `${range.minEth.toFixed()}–${range.maxEth === null ? 'unbounded' : range.maxEth.toFixed()} ETH`;
}

/** Decides which micro-batches close now; see the rules at the top of this file. */
export function closeMicroBatches(input: MicroBatchWindowInput): MicroBatchWindowDecision {
  assertInput(input);
  const { range } = input;
  const maxEth = range?.maxEth ?? null;
  const oversized = maxEth === null ? [] : input.pending.filter((payment) => payment.ethNet.greaterThan(maxEth));
  let candidates = maxEth === null ? [...input.pending] : input.pending.filter((payment) => !payment.ethNet.greaterThan(maxEth));
  const batches: MicroBatch[] = [];
  const holds: WindowHold[] = [];
  let restUsd = totalsOf(candidates).usd;
  // Each pass closes at least one payment or ends the loop, so it ends after at most pending.length passes.
  for (;;) {
    const oldest = candidates[0];
    if (oldest === undefined) break;
    let trigger: MicroBatchTrigger | undefined;
    if (restUsd.greaterThanOrEqualTo(input.thresholdUsd)) trigger = 'THRESHOLD';
    else if (waitedMs(oldest, input.now) >= input.maxWaitMs) trigger = 'MAX_WAIT';
    if (trigger === undefined) break;
    const members = takeMembers(candidates, input);
    const eth = totalsOf(members).eth;
    if (range !== undefined && (members.length === 0 || eth.lessThan(range.minEth))) {
      holds.push({
        state: 'below_exchange_minimum',
        reason: `the due batch of ${eth.toFixed()} ETH is below the exchange's minimum (range ${rangeText(range)}); it waits for more payments`,
        payments: candidates,
      });
      break;
    }
    const batch = closeBatch(members, trigger, input);
    batches.push(batch);
    restUsd = restUsd.minus(batch.totalUsd);
    const taken = new Set(members);
    candidates = candidates.filter((payment) => !taken.has(payment));
  }
  if (oversized.length > 0 && range !== undefined) {
    holds.push({
      state: 'above_exchange_maximum',
      reason: `${oversized.length} payment(s) each above the exchange's maximum (range ${rangeText(range)}): no exchange of this size is possible; an operator must act`,
      payments: oversized,
    });
  }
  const remaining = [...candidates, ...oversized].sort(comparePending);
  assertDecision(input, batches, remaining, holds);
  return { batches, remaining, holds };
}

// The same properties the simulation test checks, asserted on every call in production: money
// is conserved across batches and what remains, every batch fits the exchange's range, and
// nothing left pending should have closed unless a hold says why.
function assertDecision(input: MicroBatchWindowInput, batches: readonly MicroBatch[], remaining: readonly PendingPayment[], holds: readonly WindowHold[]): void {
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
    if (input.range !== undefined) {
      const { minEth, maxEth } = input.range;
      assertInvariant(batch.totalEth.greaterThanOrEqualTo(minEth) && (maxEth === null || batch.totalEth.lessThanOrEqualTo(maxEth)), "a batch fits the exchange's range", {
        batchId: batch.batchId,
        totalEth: batch.totalEth.toFixed(),
      });
    }
    after.usd = after.usd.plus(batch.totalUsd);
    after.eth = after.eth.plus(batch.totalEth);
    count += batch.members.length;
  }
  assertInvariant(count === input.pending.length && after.usd.equals(before.usd) && after.eth.equals(before.eth), 'the window conserves payments and money', {
    pending: input.pending.length,
    accounted: count,
  });
  const held = new Set(holds.flatMap((hold) => hold.payments));
  const free = remaining.filter((payment) => !held.has(payment));
  const oldest = free[0];
  if (oldest !== undefined) {
    assertInvariant(totalsOf(free).usd.lessThan(input.thresholdUsd), 'what stays pending without a hold sums to less than the threshold');
    assertInvariant(waitedMs(oldest, input.now) < input.maxWaitMs, 'nothing stays pending past maxWait without a hold', { paymentId: oldest.paymentId });
  }
}
