// What one SwapEvent does to the batch it reports on, decided from the batch's stored state and
// the event alone (no I/O). The rules that keep money from being lost or doubled live here:
// - an outcome is applied once: a second FINISHED (or FAILED) that agrees is a no-op, one that
//   contradicts the stored outcome is dead-lettered with an alert, never applied over it;
// - a payout is finished only with a payout hash and the amount the client received;
// - a conversion that received nothing is a failure, so its members go back to pending;
// - but a conversion that failed after its pay-in may have left is never sent back to pending
//   (converting its payments again would pay the ETH in twice): it is held for recovery, and an
//   operator says what became of the money (payInMayHaveLeft below says when);
// - an event for a batch we do not know is dead-lettered (an operator replays it once the cause
//   is found), never dropped silently.
import type { Decimal } from '../../core/money.ts';
import type { SwapEvent } from '../../schemas/generated/records.ts';
import { usdtBaseUnitsOf } from './conversion-credits.ts';

export type BatchState = 'requested' | 'swapping' | 'finished' | 'failed';

/** A conversion can also wait for an operator after a failure past its pay-in, or be written off. */
export type ConversionBatchState = BatchState | 'needs_recovery' | 'written_off';

export interface Rejection {
  readonly kind: 'reject';
  readonly field: string;
  readonly rule: string;
  readonly reason: string;
  /** The event contradicts a recorded outcome: an operator must look at it now. */
  readonly alert: boolean;
}

export type ProgressDecision = { readonly kind: 'progress' } | { readonly kind: 'ignore'; readonly why: string };

export type ConversionEventDecision =
  | ProgressDecision
  | Rejection
  | { readonly kind: 'finish'; readonly receivedBaseUnits: bigint }
  | { readonly kind: 'fail'; readonly reason: string }
  | { readonly kind: 'hold_for_recovery'; readonly reason: string };

export type PayoutEventDecision =
  | ProgressDecision
  | Rejection
  | { readonly kind: 'finish'; readonly payoutHash: string; readonly payoutAmount: Decimal }
  | { readonly kind: 'fail'; readonly reason: string };

export interface ConversionBatchFacts {
  readonly state: ConversionBatchState;
  readonly usdtReceived: Decimal | null;
  /** The exchange id recorded from earlier events (CREATED carries it). */
  readonly exchangeId: string | null;
}

export interface PayoutBatchFacts {
  readonly state: BatchState;
  readonly payoutHash: string | null;
}

function reject(field: string, rule: string, reason: string, alert = false): Rejection {
  return { kind: 'reject', field, rule, reason, alert };
}

function isLive(state: ConversionBatchState): boolean {
  return state === 'requested' || state === 'swapping';
}

function failureReasonOf(event: SwapEvent): string {
  const reason = event.failure_reason ?? (event.status === null ? null : `exchange status ${event.status}`);
  return reason === null || reason.trim() === '' ? 'the exchange failed without a reason' : reason;
}

function progressOf(state: ConversionBatchState): ProgressDecision {
  return isLive(state) ? { kind: 'progress' } : { kind: 'ignore', why: `progress event after the batch ${state}` };
}

/** ChangeNow's own verdicts on an exchange; the connector reports its chain failures with the exchange's earlier status. */
const exchangeFailureStatuses = new Set(['failed', 'refunded']);

/**
 * Whether the ETH of a failed conversion may have left the host wallet (then it must never be
 * paid in again automatically). Conservative: only a failure that provably came before any pay-in
 * sends the payments back to pending.
 * - A FINISHED (with nothing received) finished an exchange: its deposit arrived.
 * - A pay-in hash: the pay-in was confirmed on chain.
 * - No exchange id, here or recorded: no exchange was stored, and the connector requests the pay-in
 *   only in the transaction that stores the exchange — nothing was sent.
 * - ChangeNow itself said failed or refunded: the pay-in was requested with the exchange, so it may
 *   have been sent (or be sent still) even if it is not confirmed yet.
 * - Otherwise the connector failed the swap because the pay-in transfer itself failed on chain
 *   (refused before signing, reverted, replaced): nothing left.
 */
export function payInMayHaveLeft(batch: ConversionBatchFacts, event: SwapEvent): boolean {
  if (event.type === 'FINISHED') return true;
  if (event.payin_hash !== null) return true;
  if ((event.exchange_id ?? batch.exchangeId) === null) return false;
  return event.status !== null && exchangeFailureStatuses.has(event.status);
}

function failureOf(batch: ConversionBatchFacts, event: SwapEvent, reason: string): ConversionEventDecision {
  return payInMayHaveLeft(batch, event) ? { kind: 'hold_for_recovery', reason } : { kind: 'fail', reason };
}

function isHeldForRecovery(state: ConversionBatchState): boolean {
  return state === 'needs_recovery' || state === 'written_off';
}

export function decideConversionEvent(batch: ConversionBatchFacts | null, event: SwapEvent): ConversionEventDecision {
  if (batch === null) return reject('command_id', 'known conversion batch', `no conversion batch ${event.command_id}`);
  switch (event.type) {
    case 'CREATED':
    case 'STATUS_CHANGED':
      return progressOf(batch.state);
    case 'FAILED':
      if (batch.state === 'failed') return { kind: 'ignore', why: 'the batch has already failed' };
      if (isHeldForRecovery(batch.state)) return { kind: 'ignore', why: `the batch has already failed after its pay-in (${batch.state})` };
      if (batch.state === 'finished') {
        return reject('type', 'one outcome per conversion', `conversion batch ${event.command_id} already finished and was distributed; a FAILED cannot undo it`, true);
      }
      return failureOf(batch, event, failureReasonOf(event));
    case 'FINISHED': {
      const amount = event.amount_to;
      if (amount === null) return reject('amount_to', 'present on FINISHED', 'a finished conversion must say how much USDT was received');
      const baseUnits = usdtBaseUnitsOf(amount);
      if (baseUnits === undefined) {
        return reject('amount_to', 'USDT amount, at most 6 decimals, not negative', `amount_to ${amount.toFixed()} is not a USDT amount`);
      }
      if (batch.state === 'finished') {
        if (batch.usdtReceived !== null && batch.usdtReceived.eq(amount)) return { kind: 'ignore', why: 'the batch has already finished with this amount' };
        return reject(
          'amount_to',
          'one outcome per conversion',
          `conversion batch ${event.command_id} already finished with ${batch.usdtReceived?.toFixed() ?? 'no amount'} USDT; this event says ${amount.toFixed()}`,
          true,
        );
      }
      if (batch.state === 'failed') {
        // Its members are back in the window and may already be in another batch: crediting now
        // could credit them twice. An operator decides what happened to this USDT.
        return reject('type', 'one outcome per conversion', `conversion batch ${event.command_id} already failed; its members went back to pending`, true);
      }
      if (isHeldForRecovery(batch.state)) {
        // Its members wait for an operator, who may already be recovering this money by hand: the
        // amount in this dead letter is what to enter as recovered.
        return reject('type', 'one outcome per conversion', `conversion batch ${event.command_id} failed after its pay-in and is ${batch.state}; an operator resolves it`, true);
      }
      if (baseUnits === 0n) return failureOf(batch, event, 'the exchange finished with zero USDT received');
      return { kind: 'finish', receivedBaseUnits: baseUnits };
    }
  }
}

export function decidePayoutEvent(batch: PayoutBatchFacts | null, event: SwapEvent): PayoutEventDecision {
  if (batch === null) return reject('command_id', 'known payout batch', `no payout batch ${event.command_id}`);
  switch (event.type) {
    case 'CREATED':
    case 'STATUS_CHANGED':
      return progressOf(batch.state);
    case 'FAILED':
      if (batch.state === 'failed') return { kind: 'ignore', why: 'the batch has already failed' };
      if (batch.state === 'finished') {
        return reject('type', 'one outcome per payout', `payout batch ${event.command_id} already finished with payout hash ${batch.payoutHash ?? '?'}`, true);
      }
      return { kind: 'fail', reason: failureReasonOf(event) };
    case 'FINISHED': {
      const hash = event.payout_hash?.trim() ?? '';
      // Paid only when paid: without the client-currency payout hash nothing proves the money left.
      if (hash === '') return reject('payout_hash', 'present on FINISHED', 'a finished payout must carry the payout transaction hash');
      const amount = event.amount_to;
      if (amount === null || !amount.isFinite() || amount.lte(0)) {
        return reject('amount_to', 'positive on FINISHED', 'a finished payout must say how much the client received');
      }
      if (batch.state === 'finished') {
        if (batch.payoutHash === hash) return { kind: 'ignore', why: 'the batch has already finished with this payout hash' };
        return reject('payout_hash', 'one outcome per payout', `payout batch ${event.command_id} already finished with payout hash ${batch.payoutHash ?? '?'}; this event says ${hash}`, true);
      }
      if (batch.state === 'failed') {
        return reject('type', 'one outcome per payout', `payout batch ${event.command_id} already failed; its credits were released for a retry`, true);
      }
      return { kind: 'finish', payoutHash: hash, payoutAmount: amount };
    }
  }
}
