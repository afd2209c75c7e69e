// Proves the rules of what a SwapEvent may do to its batch: outcomes are applied once, agreeing
// repeats change nothing, contradictions are dead-lettered with an alert, a payout is finished only
// with its payout hash and amount, a conversion that received nothing counts as failed, and a
// conversion that failed after its pay-in may have left is held for recovery, never sent back to pending.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import type { SwapEvent } from '../../schemas/generated/records.ts';
import { decideConversionEvent, decidePayoutEvent } from './swap-event-decision.ts';

function event(fields: Pick<SwapEvent, 'type'> & Partial<SwapEvent>): SwapEvent {
  return {
    event_id: 'e1',
    command_id: 'batch-1',
    command_kind: 'CONVERSION',
    exchange_id: 'ex-1',
    status: null,
    pay_in_address: null,
    amount_from: null,
    amount_to: null,
    payin_hash: null,
    payout_hash: null,
    failure_reason: null,
    occurred_at: new Date(0),
    ...fields,
  };
}

const live = { state: 'swapping', usdtReceived: null, exchangeId: null } as const;

describe('conversion events', () => {
  it('finishes a live batch with the received amount in base units', () => {
    expect(decideConversionEvent(live, event({ type: 'FINISHED', amount_to: new Decimal('12.345678') }))).toEqual({ kind: 'finish', receivedBaseUnits: 12_345_678n });
    expect(decideConversionEvent({ state: 'requested', usdtReceived: null, exchangeId: null }, event({ type: 'FINISHED', amount_to: new Decimal('1') }))).toEqual({ kind: 'finish', receivedBaseUnits: 1_000_000n });
  });

  it('treats zero received as a failure and FAILED as a failure with its reason', () => {
    expect(decideConversionEvent(live, event({ type: 'FAILED', failure_reason: 'refunded' }))).toEqual({ kind: 'fail', reason: 'refunded' });
    expect(decideConversionEvent(live, event({ type: 'FAILED', status: 'expired' }))).toEqual({ kind: 'fail', reason: 'exchange status expired' });
    expect(decideConversionEvent(live, event({ type: 'FAILED' }))).toEqual({ kind: 'fail', reason: 'the exchange failed without a reason' });
  });

  it('holds a conversion for recovery when it failed after its pay-in may have left, and only then', () => {
    const hold = { kind: 'hold_for_recovery' };
    // ChangeNow's own verdict on a stored exchange: the pay-in was requested with it.
    expect(decideConversionEvent(live, event({ type: 'FAILED', status: 'failed', failure_reason: 'AML' }))).toEqual({ ...hold, reason: 'AML' });
    expect(decideConversionEvent(live, event({ type: 'FAILED', status: 'refunded' }))).toMatchObject(hold);
    expect(decideConversionEvent({ ...live, exchangeId: 'ex-1' }, event({ type: 'FAILED', exchange_id: null, status: 'failed' }))).toMatchObject(hold);
    // A confirmed pay-in, or an exchange that finished with nothing.
    expect(decideConversionEvent(live, event({ type: 'FAILED', status: 'waiting', payin_hash: '0xin' }))).toMatchObject(hold);
    expect(decideConversionEvent(live, event({ type: 'FINISHED', amount_to: new Decimal('0') }))).toEqual({ ...hold, reason: 'the exchange finished with zero USDT received' });
    // Before any pay-in: no exchange stored, or the pay-in transfer itself failed on chain.
    expect(decideConversionEvent(live, event({ type: 'FAILED', exchange_id: null, status: 'failed', failure_reason: 'ChangeNow rejected the exchange' }))).toMatchObject({ kind: 'fail' });
    expect(decideConversionEvent(live, event({ type: 'FAILED', status: 'waiting', failure_reason: 'pay-in transfer reverted: out of gas' }))).toMatchObject({ kind: 'fail' });
  });

  it('leaves a batch held for recovery to the operator: FAILED ignored, FINISHED dead-lettered with an alert, progress ignored', () => {
    for (const state of ['needs_recovery', 'written_off'] as const) {
      const held = { state, usdtReceived: null, exchangeId: 'ex-1' };
      expect(decideConversionEvent(held, event({ type: 'FAILED', status: 'failed' }))).toMatchObject({ kind: 'ignore' });
      expect(decideConversionEvent(held, event({ type: 'FINISHED', amount_to: new Decimal('5') }))).toMatchObject({ kind: 'reject', alert: true });
      expect(decideConversionEvent(held, event({ type: 'STATUS_CHANGED', status: 'refunded' }))).toMatchObject({ kind: 'ignore' });
    }
  });

  it('refuses amounts that are missing, negative or finer than a USDT base unit', () => {
    expect(decideConversionEvent(live, event({ type: 'FINISHED' }))).toMatchObject({ kind: 'reject', rule: 'present on FINISHED', alert: false });
    expect(decideConversionEvent(live, event({ type: 'FINISHED', amount_to: new Decimal('-1') }))).toMatchObject({ kind: 'reject', field: 'amount_to' });
    expect(decideConversionEvent(live, event({ type: 'FINISHED', amount_to: new Decimal('1.0000001') }))).toMatchObject({ kind: 'reject', field: 'amount_to' });
  });

  it('applies an outcome once: agreeing repeats are ignored, contradictions rejected with an alert', () => {
    const finished = { state: 'finished', usdtReceived: new Decimal('5'), exchangeId: 'ex-1' } as const;
    expect(decideConversionEvent(finished, event({ type: 'FINISHED', amount_to: new Decimal('5.000000') }))).toMatchObject({ kind: 'ignore' });
    expect(decideConversionEvent(finished, event({ type: 'FINISHED', amount_to: new Decimal('6') }))).toMatchObject({ kind: 'reject', alert: true });
    expect(decideConversionEvent(finished, event({ type: 'FAILED' }))).toMatchObject({ kind: 'reject', alert: true });
    const failed = { state: 'failed', usdtReceived: null, exchangeId: 'ex-1' } as const;
    expect(decideConversionEvent(failed, event({ type: 'FAILED' }))).toMatchObject({ kind: 'ignore' });
    expect(decideConversionEvent(failed, event({ type: 'FINISHED', amount_to: new Decimal('5') }))).toMatchObject({ kind: 'reject', alert: true });
  });

  it('records progress on a live batch only, and rejects an unknown batch', () => {
    expect(decideConversionEvent(live, event({ type: 'CREATED' }))).toEqual({ kind: 'progress' });
    expect(decideConversionEvent({ state: 'finished', usdtReceived: new Decimal(1), exchangeId: 'ex-1' }, event({ type: 'STATUS_CHANGED' }))).toMatchObject({ kind: 'ignore' });
    expect(decideConversionEvent(null, event({ type: 'CREATED' }))).toMatchObject({ kind: 'reject', rule: 'known conversion batch' });
  });
});

describe('payout events', () => {
  const payout = (fields: Pick<SwapEvent, 'type'> & Partial<SwapEvent>) => event({ command_kind: 'PAYOUT', ...fields });
  const livePayout = { state: 'swapping', payoutHash: null } as const;

  it('finishes only with a payout hash and a positive amount', () => {
    expect(decidePayoutEvent(livePayout, payout({ type: 'FINISHED', payout_hash: 'h', amount_to: new Decimal('0.5') }))).toEqual({ kind: 'finish', payoutHash: 'h', payoutAmount: new Decimal('0.5') });
    expect(decidePayoutEvent(livePayout, payout({ type: 'FINISHED', amount_to: new Decimal('0.5') }))).toMatchObject({ kind: 'reject', field: 'payout_hash' });
    expect(decidePayoutEvent(livePayout, payout({ type: 'FINISHED', payout_hash: '  ', amount_to: new Decimal('0.5') }))).toMatchObject({ kind: 'reject', field: 'payout_hash' });
    expect(decidePayoutEvent(livePayout, payout({ type: 'FINISHED', payout_hash: 'h' }))).toMatchObject({ kind: 'reject', field: 'amount_to' });
    expect(decidePayoutEvent(livePayout, payout({ type: 'FINISHED', payout_hash: 'h', amount_to: new Decimal(0) }))).toMatchObject({ kind: 'reject', field: 'amount_to' });
  });

  it('never marks a payout twice or over a contradicting outcome', () => {
    const finished = { state: 'finished', payoutHash: 'h' } as const;
    expect(decidePayoutEvent(finished, payout({ type: 'FINISHED', payout_hash: 'h', amount_to: new Decimal(1) }))).toMatchObject({ kind: 'ignore' });
    expect(decidePayoutEvent(finished, payout({ type: 'FINISHED', payout_hash: 'other', amount_to: new Decimal(1) }))).toMatchObject({ kind: 'reject', alert: true });
    expect(decidePayoutEvent(finished, payout({ type: 'FAILED' }))).toMatchObject({ kind: 'reject', alert: true });
    const failed = { state: 'failed', payoutHash: null } as const;
    expect(decidePayoutEvent(failed, payout({ type: 'FAILED' }))).toMatchObject({ kind: 'ignore' });
    expect(decidePayoutEvent(failed, payout({ type: 'FINISHED', payout_hash: 'h', amount_to: new Decimal(1) }))).toMatchObject({ kind: 'reject', alert: true });
    expect(decidePayoutEvent(null, payout({ type: 'FAILED' }))).toMatchObject({ kind: 'reject', rule: 'known payout batch' });
    expect(decidePayoutEvent(livePayout, payout({ type: 'FAILED', failure_reason: 'expired' }))).toEqual({ kind: 'fail', reason: 'expired' });
  });
});
