import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { awaitsOurPayIn, nextPollDelayMs, progressOf, type ObservedExchange } from './swap-progress.ts';

function observed(overrides: Partial<ObservedExchange>): ObservedExchange {
  return { status: 'waiting', amountFrom: null, amountTo: null, payinHash: null, payoutHash: null, refundHash: null, ...overrides };
}

describe('exchange progress', () => {
  it('reports a status change once, then nothing while it stays', () => {
    expect(progressOf('new', observed({ status: 'waiting' }))).toEqual({ kind: 'status', status: 'waiting' });
    expect(progressOf('waiting', observed({ status: 'waiting' }))).toEqual({ kind: 'unchanged' });
    expect(progressOf('waiting', observed({ status: 'verifying' }))).toEqual({ kind: 'status', status: 'verifying' });
  });

  it('finishes only with the amount sent and the payout hash', () => {
    expect(progressOf('sending', observed({ status: 'finished', amountTo: new Decimal('19.9'), payoutHash: null }))).toEqual({ kind: 'unchanged' });
    expect(progressOf('exchanging', observed({ status: 'finished', amountTo: null, payoutHash: '0xabc' }))).toEqual({ kind: 'status', status: 'sending' });
    expect(progressOf('sending', observed({ status: 'finished', amountFrom: new Decimal('0.01'), amountTo: new Decimal('19.9'), payinHash: '0x1', payoutHash: '0x2' }))).toEqual({
      kind: 'finished',
      amountFrom: new Decimal('0.01'),
      amountTo: new Decimal('19.9'),
      payinHash: '0x1',
      payoutHash: '0x2',
    });
  });

  it('ends failed and refunded exchanges with a reason', () => {
    expect(progressOf('waiting', observed({ status: 'failed' }))).toMatchObject({ kind: 'failed', status: 'failed' });
    const refunded = progressOf('exchanging', observed({ status: 'refunded', refundHash: '0xfeed' }));
    expect(refunded).toMatchObject({ kind: 'failed', status: 'refunded' });
    expect(refunded.kind === 'failed' ? refunded.reason : '').toContain('0xfeed');
  });

  it('backs off from the first interval to the cap while nothing changes', () => {
    expect([0, 1, 2, 3, 10, 80].map((idle) => nextPollDelayMs(idle, 2_000, 60_000))).toEqual([2_000, 4_000, 8_000, 16_000, 60_000, 60_000]);
  });

  it('waits for our own pay-in without polling while the exchange has seen no deposit', () => {
    expect(awaitsOurPayIn('paying_in', 'new')).toBe(true);
    expect(awaitsOurPayIn('paying_in', 'waiting')).toBe(true);
    expect(awaitsOurPayIn('paying_in', null)).toBe(true);
    // ChangeNow saw a deposit before our chain event: it moves, so it is followed as usual.
    expect(awaitsOurPayIn('paying_in', 'confirming')).toBe(false);
    expect(awaitsOurPayIn('following', 'waiting')).toBe(false);
  });
});
