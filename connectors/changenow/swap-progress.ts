// How an observed exchange moves a swap command forward (pure). The connector only reports a swap
// finished when ChangeNow says `finished` AND gives the amount sent and the payout hash: settlement
// marks money paid on that report, so a `finished` without a hash is treated as still sending.
import type { Decimal } from '../../core/money.ts';
import type { ExchangeStatus } from './changenow-api.ts';


export interface ObservedExchange {
  readonly status: ExchangeStatus;
  readonly amountFrom: Decimal | null;
  readonly amountTo: Decimal | null;
  readonly payinHash: string | null;
  readonly payoutHash: string | null;
  readonly refundHash: string | null;
}

export type Progress =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'status'; readonly status: ExchangeStatus }
  | {
      readonly kind: 'finished';
      readonly amountFrom: Decimal | null;
      readonly amountTo: Decimal;
      readonly payinHash: string | null;
      readonly payoutHash: string;
    }
  | { readonly kind: 'failed'; readonly status: ExchangeStatus; readonly reason: string };

export function progressOf(previousStatus: string | null, observed: ObservedExchange): Progress {
  if (observed.status === 'finished' && observed.amountTo !== null && observed.payoutHash !== null) {
    return {
      kind: 'finished',
      amountFrom: observed.amountFrom,
      amountTo: observed.amountTo,
      payinHash: observed.payinHash,
      payoutHash: observed.payoutHash,
    };
  }
  if (observed.status === 'failed') {
    return { kind: 'failed', status: 'failed', reason: 'ChangeNow reported the exchange failed' };
  }
  if (observed.status === 'refunded') {
    const refund = observed.refundHash === null ? 'no refund hash given' : `refund hash ${observed.refundHash}`;
    return { kind: 'failed', status: 'refunded', reason: `ChangeNow refunded the exchange (${refund})` };
  }
  // `finished` without amount or hash: wait for them, still following.
  const status: ExchangeStatus = observed.status === 'finished' ? 'sending' : observed.status;
  return status === previousStatus ? { kind: 'unchanged' } : { kind: 'status', status };
}

/**
 * The follower's backoff: the first interval while the status moves, doubling with each poll that
 * saw no change, capped. An exchange waits minutes to hours on chain confirmations; polling it at
 * the initial rate all that time would spend the shared rate limit on nothing.
 */
export function nextPollDelayMs(idlePolls: number, initialMs: number, maxMs: number): number {
  const factor = 2 ** Math.min(idlePolls, 30);
  return Math.min(maxMs, initialMs * factor);
}

/**
 * Whether the exchange is only waiting for our own pay-in. ChangeNow's `new` and `waiting` mean "no
 * deposit seen yet": nothing moves until our transfer lands, and the chain connector's CONFIRMED
 * event (not a poll) is what tells us it did — it moves the command to `following`, which polls at
 * once. Polling meanwhile would only spend the shared rate budget, so such a command is polled at
 * the capped interval (a safety net, should the event be late) instead of backing off from the first.
 */
export function awaitsOurPayIn(state: string, status: string | null): boolean {
  return state === 'paying_in' && (status === null || status === 'new' || status === 'waiting');
}
