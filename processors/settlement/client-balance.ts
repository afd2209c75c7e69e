// "Why is this not paid yet?" — every unpaid group of a client with an explicit state and reason,
// from the rows the admin API reads (pure: no I/O, time comes in as `now`). States:
// - waiting_for_conversion: payments not converted to USDT yet (pending, or swapping in the global
//   micro-batch), with how many came back from a failed conversion;
// - below_threshold: free credits under the client's threshold, with the amount missing and when
//   the max-age trigger pays them anyway;
// - payout_due: the threshold or max age is reached; settlement forms the payout at its next
//   evaluation (within a second while it runs);
// - below_exchange_minimum, above_exchange_maximum, fee_floor_not_met, quote_unavailable: due, but
//   held by settlement for the reason it recorded;
// - payout_in_flight: in a payout batch whose exchange has not finished;
// - failed_retrying: its payout failed; the error and the next attempt (none once the automatic
//   retries are used up: an operator retries it);
// - needs_recovery: payments of a conversion that failed after its pay-in; an operator resolves it.
import { Decimal } from '../../core/money.ts';
import type { GroupKey, HoldState } from './payout-window.ts';

export type BalanceState =
  | 'waiting_for_conversion'
  | 'below_threshold'
  | 'payout_due'
  | HoldState
  | 'payout_in_flight'
  | 'failed_retrying'
  | 'needs_recovery';

export interface FreeGroupRow {
  readonly key: GroupKey;
  readonly unpaidUsdt: Decimal;
  readonly credits: number;
  readonly oldestCreditedAt: Date;
}

export interface HoldRow {
  readonly key: GroupKey;
  readonly state: HoldState;
  readonly reason: string;
  readonly unpaidUsdt: Decimal;
  readonly minimumUsdt: Decimal | null;
  readonly estimatedFeeUsdt: Decimal | null;
  readonly evaluatedAt: Date;
}

export interface OpenBatchRow {
  readonly batchId: string;
  readonly key: GroupKey;
  readonly state: 'requested' | 'swapping' | 'failed';
  readonly reason: string;
  readonly sourceCurrency: string;
  readonly sourceAmount: Decimal;
  readonly credits: number;
  readonly exchangeId: string | null;
  readonly exchangeStatus: string | null;
  readonly failureReason: string | null;
  readonly attempts: number;
  readonly nextRetryAt: Date | null;
  readonly retriesExhaustedAt: Date | null;
  readonly createdAt: Date;
}

export interface UnconvertedRow {
  readonly payments: number;
  readonly usdNet: Decimal;
  readonly swapping: number;
  /** Pending payments that were in a conversion batch that failed. */
  readonly returnedFromFailedConversion: number;
  readonly oldestReceivedAt: Date | null;
}

/** The client's payments in one conversion that failed after its pay-in and waits for an operator. */
export interface NeedsRecoveryRow {
  readonly batchId: string;
  readonly payments: number;
  readonly usdNet: Decimal;
  readonly reason: string;
}

export interface BalanceInput {
  readonly thresholdUsd: Decimal | null;
  /** The destination the client's next credits go to. */
  readonly destination: Omit<GroupKey, 'clientId'>;
  readonly freeGroups: readonly FreeGroupRow[];
  readonly holds: readonly HoldRow[];
  readonly openBatches: readonly OpenBatchRow[];
  readonly unconverted: UnconvertedRow;
  /** Absent: none. */
  readonly needsRecovery?: readonly NeedsRecoveryRow[];
  readonly maxAgeMs: number;
  readonly now: Date;
}

export interface BalanceGroup {
  readonly state: BalanceState;
  readonly reason: string;
  readonly walletAddress: string;
  readonly payoutCurrency: string;
  readonly payoutNetwork: string;
  /** The amount in `currency`: usdt for credits, eth for an instant payout, usd for unconverted payments. */
  readonly amount: Decimal;
  readonly currency: string;
  readonly credits: number | null;
  readonly amountMissingUsdt: Decimal | null;
  readonly maxAgeDueAt: Date | null;
  readonly payoutBatchId: string | null;
  readonly exchangeStatus: string | null;
  readonly error: string | null;
  readonly nextAttemptAt: Date | null;
  readonly attempts: number | null;
}

function sameKey(left: Omit<GroupKey, 'clientId'>, right: Omit<GroupKey, 'clientId'>): boolean {
  return left.walletAddress === right.walletAddress && left.payoutCurrency === right.payoutCurrency && left.payoutNetwork === right.payoutNetwork;
}

function entry(key: Omit<GroupKey, 'clientId'>, fields: Pick<BalanceGroup, 'state' | 'reason' | 'amount' | 'currency'> & Partial<BalanceGroup>): BalanceGroup {
  return {
    walletAddress: key.walletAddress,
    payoutCurrency: key.payoutCurrency,
    payoutNetwork: key.payoutNetwork,
    credits: null,
    amountMissingUsdt: null,
    maxAgeDueAt: null,
    payoutBatchId: null,
    exchangeStatus: null,
    error: null,
    nextAttemptAt: null,
    attempts: null,
    ...fields,
  };
}

function freeGroupEntry(group: FreeGroupRow, input: BalanceInput): BalanceGroup {
  const maxAgeDueAt = new Date(group.oldestCreditedAt.getTime() + input.maxAgeMs);
  const base = { amount: group.unpaidUsdt, currency: 'usdt', credits: group.credits, maxAgeDueAt };
  const hold = input.holds.find((candidate) => sameKey(candidate.key, group.key));
  if (hold !== undefined) {
    const missing = hold.state === 'below_exchange_minimum' && hold.minimumUsdt !== null ? Decimal.max(hold.minimumUsdt.minus(group.unpaidUsdt), 0) : null;
    return entry(group.key, { ...base, state: hold.state, reason: hold.reason, amountMissingUsdt: missing });
  }
  const aged = input.now.getTime() >= maxAgeDueAt.getTime();
  if (aged) return entry(group.key, { ...base, state: 'payout_due', reason: 'the oldest credit reached the maximum age; settlement forms the payout at its next evaluation' });
  if (input.thresholdUsd === null || group.unpaidUsdt.gte(input.thresholdUsd)) {
    return entry(group.key, { ...base, state: 'payout_due', reason: 'the threshold is reached; settlement forms the payout at its next evaluation' });
  }
  const missing = input.thresholdUsd.minus(group.unpaidUsdt);
  return entry(group.key, {
    ...base,
    state: 'below_threshold',
    amountMissingUsdt: missing,
    reason: `${group.unpaidUsdt.toFixed()} USDT of the ${input.thresholdUsd.toFixed()} USD threshold; ${missing.toFixed()} missing, or paid anyway from ${maxAgeDueAt.toISOString()}`,
  });
}

function openBatchEntry(batch: OpenBatchRow): BalanceGroup {
  const base = {
    amount: batch.sourceAmount,
    currency: batch.sourceCurrency,
    credits: batch.sourceCurrency === 'usdt' ? batch.credits : null,
    payoutBatchId: batch.batchId,
    exchangeStatus: batch.exchangeStatus,
    attempts: batch.attempts,
  };
  if (batch.state !== 'failed') {
    return entry(batch.key, {
      ...base,
      state: 'payout_in_flight',
      reason: `payout batch ${batch.batchId} (${batch.reason}) is ${batch.state}${batch.exchangeStatus === null ? '' : `, exchange ${batch.exchangeId ?? ''} ${batch.exchangeStatus}`}; paid once the exchange finished with a payout hash`,
    });
  }
  const error = batch.failureReason ?? 'unknown';
  const reason =
    batch.nextRetryAt !== null
      ? `payout batch ${batch.batchId} failed (${error}); retried at ${batch.nextRetryAt.toISOString()}`
      : batch.retriesExhaustedAt !== null
        ? `payout batch ${batch.batchId} failed (${error}) and its automatic retries are used up; an operator must retry it (POST /api/payout-batches/${batch.batchId}/retry)`
        : `payout batch ${batch.batchId} failed (${error}); its retry is being formed`;
  return entry(batch.key, { ...base, state: 'failed_retrying', reason, error, nextAttemptAt: batch.nextRetryAt });
}

function unconvertedEntry(input: BalanceInput): BalanceGroup[] {
  const { unconverted } = input;
  if (unconverted.payments === 0) return [];
  const returned = unconverted.returnedFromFailedConversion;
  return [
    entry(input.destination, {
      state: 'waiting_for_conversion',
      amount: unconverted.usdNet,
      currency: 'usd',
      reason:
        `${unconverted.payments} payment(s) worth ${unconverted.usdNet.toFixed()} USD wait for the global ETH → USDT conversion ` +
        `(${unconverted.swapping} swapping now${returned > 0 ? `, ${returned} back from a failed conversion` : ''}); credited to the destination in force when they convert`,
    }),
  ];
}

function needsRecoveryEntry(row: NeedsRecoveryRow, input: BalanceInput): BalanceGroup {
  return entry(input.destination, {
    state: 'needs_recovery',
    amount: row.usdNet,
    currency: 'usd',
    reason: `${row.payments} payment(s) worth ${row.usdNet.toFixed()} USD in conversion ${row.batchId}, which failed after its pay-in (${row.reason}); an operator resolves it, they are not converted again automatically`,
  });
}

/** Every unpaid group, oldest concern first: unconverted, needing recovery, free, held, in flight, failed. */
export function describeBalance(input: BalanceInput): BalanceGroup[] {
  return [...unconvertedEntry(input), ...(input.needsRecovery ?? []).map((row) => needsRecoveryEntry(row, input)), ...input.freeGroups.map((group) => freeGroupEntry(group, input)), ...input.openBatches.map(openBatchEntry)];
}
