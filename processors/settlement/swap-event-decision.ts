// What one SwapEvent does to the batch it reports on, decided from the batch's stored state and
// the event alone (no I/O). The rules that keep money from being lost or doubled live here:
// - an outcome is applied once: a second FINISHED (or FAILED) that agrees is a no-op, one that
//   contradicts the stored outcome is dead-lettered with an alert, never applied over it;
// - a payout is finished only with a payout hash and the amount the client received;
// - a conversion that received nothing is a failure, so its members go back to pending;
// - an event for a batch we do not know is dead-lettered (an operator replays it once the cause
//   is found), never dropped silently.
import type { Decimal } from '../../core/money.ts';
import type { SwapEvent } from '../../schemas/generated/records.ts';
import { usdtBaseUnitsOf } from './conversion-credits.ts';

export type BatchState = 'requested' | 'swapping' | 'finished' | 'failed';

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
  | { readonly kind: 'fail'; readonly reason: string };

export type PayoutEventDecision =
  | ProgressDecision
  | Rejection
  | { readonly kind: 'finish'; readonly payoutHash: string; readonly payoutAmount: Decimal }
  | { readonly kind: 'fail'; readonly reason: string };

export interface ConversionBatchFacts {
  readonly state: BatchState;
  readonly usdtReceived: Decimal | null;
}

export interface PayoutBatchFacts {
  readonly state: BatchState;
  readonly payoutHash: string | null;
}

function reject(field: string, rule: string, reason: string, alert = false): Rejection {
  return { kind: 'reject', field, rule, reason, alert };
}

function isLive(state: BatchState): boolean {
  return state === 'requested' || state === 'swapping';
}

function failureReasonOf(event: SwapEvent): string {
  const reason = event.failure_reason ?? (event.status === null ? null : `exchange status ${event.status}`);
  return reason === null || reason.trim() === '' ? 'the exchange failed without a reason' : reason;
}

function progressOf(state: BatchState): ProgressDecision {
  return isLive(state) ? { kind: 'progress' } : { kind: 'ignore', why: `progress event after the batch ${state}` };
}

export function decideConversionEvent(batch: ConversionBatchFacts | null, event: SwapEvent): ConversionEventDecision {
  if (batch === null) return reject('command_id', 'known conversion batch', `no conversion batch ${event.command_id}`);
  switch (event.type) {
    case 'CREATED':
    case 'STATUS_CHANGED':
      return progressOf(batch.state);
    case 'FAILED':
      if (batch.state === 'failed') return { kind: 'ignore', why: 'the batch has already failed' };
      if (batch.state === 'finished') {
        return reject('type', 'one outcome per conversion', `conversion batch ${event.command_id} already finished and was distributed; a FAILED cannot undo it`, true);
      }
      return { kind: 'fail', reason: failureReasonOf(event) };
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
      if (baseUnits === 0n) return { kind: 'fail', reason: 'the exchange finished with zero USDT received' };
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
