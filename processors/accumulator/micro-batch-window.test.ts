// Proves the micro-batch window's rules one scenario at a time (given pending payments, when the
// window is applied at a time, then these batches close): the threshold and max-wait triggers at
// their exact boundaries, the member cap, exact totals, and refusal of malformed input.
import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';
import { closeMicroBatches, type MicroBatchWindowInput, type PendingPayment } from './micro-batch-window.ts';

const start = new Date('2026-11-21T10:00:00.000Z');
const minuteMs = 60_000;
const maxWaitMs = 15 * minuteMs;

function payment(paymentId: string, usdNet: string, secondsAfterStart = 0, ethNet = '0.001'): PendingPayment {
  return { paymentId, usdNet: new Decimal(usdNet), ethNet: new Decimal(ethNet), receivedAt: new Date(start.getTime() + secondsAfterStart * 1_000) };
}

function sequentialIds(): () => string {
  let next = 0;
  return () => `batch-${++next}`;
}

function windowAt(pending: readonly PendingPayment[], options: Partial<MicroBatchWindowInput> = {}) {
  return closeMicroBatches({
    pending,
    thresholdUsd: new Decimal('20'),
    maxWaitMs,
    membersMax: 100,
    now: new Date(start.getTime() + minuteMs),
    newBatchId: sequentialIds(),
    ...options,
  });
}

function idsOf(payments: readonly PendingPayment[]): string[] {
  return payments.map((member) => member.paymentId);
}

describe('the threshold trigger', () => {
  it('keeps payments that sum to one base unit below the threshold pending', () => {
    const pending = [payment('p1', '10'), payment('p2', '9.99999999', 1)];
    const decision = windowAt(pending);
    expect(decision.batches).toHaveLength(0);
    expect(idsOf(decision.remaining)).toEqual(['p1', 'p2']);
  });

  it('closes every pending payment as one batch when they sum exactly to the threshold, with exact totals', () => {
    const pending = [payment('p1', '6.66666667', 0, '0.000000000000000001'), payment('p2', '13.33333333', 1, '0.002999999999999999')];
    const decision = windowAt(pending);
    expect(decision.remaining).toHaveLength(0);
    expect(decision.batches).toHaveLength(1);
    const [batch] = decision.batches;
    expect(batch?.trigger).toBe('THRESHOLD');
    expect(batch?.batchId).toBe('batch-1');
    expect(idsOf(batch?.members ?? [])).toEqual(['p1', 'p2']);
    expect(batch?.totalUsd.toFixed()).toBe('20');
    expect(batch?.totalEth.toFixed()).toBe('0.003');
    expect(batch?.thresholdUsd.toFixed()).toBe('20');
  });

  it('takes the threshold over max-wait when both fire', () => {
    const decision = windowAt([payment('p1', '25')], { now: new Date(start.getTime() + maxWaitMs) });
    expect(decision.batches.map((batch) => batch.trigger)).toEqual(['THRESHOLD']);
  });

  it('uses the threshold it is given, so a change applies to the next decision', () => {
    const pending = [payment('p1', '12'), payment('p2', '12', 1)];
    expect(windowAt(pending, { thresholdUsd: new Decimal('30') }).batches).toHaveLength(0);
    const lowered = windowAt(pending, { thresholdUsd: new Decimal('24') });
    expect(lowered.batches).toHaveLength(1);
    expect(lowered.batches[0]?.thresholdUsd.toFixed()).toBe('24');
  });
});

describe('the max-wait trigger', () => {
  const pending = [payment('p1', '1'), payment('p2', '2', 30)];

  it('does not fire one millisecond before the oldest payment has waited maxWait', () => {
    expect(windowAt(pending, { now: new Date(start.getTime() + maxWaitMs - 1) }).batches).toHaveLength(0);
  });

  it('closes every pending payment, below the threshold, once the oldest has waited maxWait', () => {
    const decision = windowAt(pending, { now: new Date(start.getTime() + maxWaitMs) });
    expect(decision.remaining).toHaveLength(0);
    expect(decision.batches).toHaveLength(1);
    expect(decision.batches[0]?.trigger).toBe('MAX_WAIT');
    expect(decision.batches[0]?.totalUsd.toFixed()).toBe('3');
    expect(decision.batches[0]?.thresholdUsd.toFixed()).toBe('20');
  });
});

describe('the member cap', () => {
  it('closes the oldest membersMax first and decides the rest again in the same call', () => {
    const pending = [payment('p1', '10'), payment('p2', '10', 1), payment('p3', '10', 2), payment('p4', '10', 3), payment('p5', '5', 4)];
    const decision = windowAt(pending, { membersMax: 2 });
    expect(decision.batches.map((batch) => idsOf(batch.members))).toEqual([
      ['p1', 'p2'],
      ['p3', 'p4'],
    ]);
    expect(decision.batches.map((batch) => batch.batchId)).toEqual(['batch-1', 'batch-2']);
    // 5 left, below 20 and young: it waits for more payments.
    expect(idsOf(decision.remaining)).toEqual(['p5']);
  });

  it('closes a full batch even when its own members sum below the threshold, because all pending crossed it', () => {
    const pending = [payment('p1', '5'), payment('p2', '5', 1), payment('p3', '5', 2), payment('p4', '5', 3)];
    const decision = windowAt(pending, { membersMax: 3 });
    expect(decision.batches).toHaveLength(1);
    expect(decision.batches[0]?.trigger).toBe('THRESHOLD');
    expect(decision.batches[0]?.totalUsd.toFixed()).toBe('15');
    expect(idsOf(decision.remaining)).toEqual(['p4']);
  });

  it('flushes the rest by max-wait as long as its oldest payment has waited maxWait', () => {
    const pending = [payment('p1', '30'), payment('p2', '1', 1), payment('p3', '1', 2)];
    const decision = windowAt(pending, { membersMax: 1, now: new Date(start.getTime() + maxWaitMs + 1_000) });
    expect(decision.batches.map((batch) => [batch.trigger, idsOf(batch.members)])).toEqual([
      ['THRESHOLD', ['p1']],
      ['MAX_WAIT', ['p2']],
    ]);
    // p3 arrived a second after p2 and has not waited maxWait yet.
    expect(idsOf(decision.remaining)).toEqual(['p3']);
  });
});

describe("the exchange's range", () => {
  // ETH at $2,000: $10 is 0.005 ETH.
  const range = { minEth: new Decimal('0.004'), maxEth: new Decimal('0.012') };
  const tenDollars = (paymentId: string, second: number) => payment(paymentId, '10', second, '0.005');

  it('splits a pending sum above the maximum into several conversions, each within the range', () => {
    const pending = [tenDollars('p1', 0), tenDollars('p2', 1), tenDollars('p3', 2), tenDollars('p4', 3), tenDollars('p5', 4)];
    const decision = windowAt(pending, { range });
    expect(decision.batches.map((batch) => [idsOf(batch.members), batch.totalEth.toFixed()])).toEqual([
      [['p1', 'p2'], '0.01'],
      [['p3', 'p4'], '0.01'],
    ]);
    // $10 left: below the threshold and young, so it waits as any pending payment does, with no hold.
    expect(idsOf(decision.remaining)).toEqual(['p5']);
    expect(decision.holds).toEqual([]);
  });

  it('fills a batch first fit: a payment that does not fit waits for the next batch', () => {
    const pending = [payment('p1', '10', 0, '0.005'), payment('p2', '20', 1, '0.01'), payment('p3', '10', 2, '0.005')];
    const decision = windowAt(pending, { range });
    expect(decision.batches.map((batch) => idsOf(batch.members))).toEqual([['p1', 'p3'], ['p2']]);
  });

  it('does not form a batch below the minimum, whatever the trigger, and says why', () => {
    const pending = [payment('p1', '4', 0, '0.002'), payment('p2', '4', 1, '0.001')];
    const late = windowAt(pending, { range, now: new Date(start.getTime() + maxWaitMs + 10_000) });
    expect(late.batches).toHaveLength(0);
    expect(idsOf(late.remaining)).toEqual(['p1', 'p2']);
    expect(late.holds.map((hold) => [hold.state, idsOf(hold.payments)])).toEqual([['below_exchange_minimum', ['p1', 'p2']]]);
    expect(late.holds[0]?.reason).toContain('0.003 ETH');
    // One more payment lifts the batch over the minimum: it closes.
    const more = windowAt([...pending, payment('p3', '4', 2, '0.002')], { range, now: new Date(start.getTime() + maxWaitMs + 10_000) });
    expect(more.batches.map((batch) => idsOf(batch.members))).toEqual([['p1', 'p2', 'p3']]);
    expect(more.holds).toEqual([]);
  });

  it('sets a payment above the maximum aside for an operator; it neither blocks nor counts toward the threshold', () => {
    const pending = [payment('p1', '100', 0, '0.05'), tenDollars('p2', 1), tenDollars('p3', 2)];
    const decision = windowAt(pending, { range });
    expect(decision.batches.map((batch) => idsOf(batch.members))).toEqual([['p2', 'p3']]);
    expect(idsOf(decision.remaining)).toEqual(['p1']);
    expect(decision.holds.map((hold) => [hold.state, idsOf(hold.payments)])).toEqual([['above_exchange_maximum', ['p1']]]);
    // Alone, it triggers nothing: $100 pending is not a crossing when no exchange can take it.
    expect(windowAt([payment('p1', '100', 0, '0.05')], { range }).batches).toHaveLength(0);
  });

  it('cuts by the member cap alone when the range is not known', () => {
    const pending = [payment('p1', '100', 0, '0.05'), tenDollars('p2', 1)];
    const decision = windowAt(pending);
    expect(decision.batches.map((batch) => idsOf(batch.members))).toEqual([['p1', 'p2']]);
    expect(decision.holds).toEqual([]);
  });
});

describe('input the window refuses', () => {
  it('decides nothing for nothing pending', () => {
    expect(windowAt([], { now: new Date(start.getTime() + 10 * maxWaitMs) })).toEqual({ batches: [], remaining: [], holds: [] });
  });

  it.each([
    ['out of order', [payment('p2', '1', 1), payment('p1', '1', 0)]],
    ['the same payment twice', [payment('p1', '1'), payment('p1', '1')]],
    ['a zero amount', [payment('p1', '0')]],
  ])('crashes on pending payments %s', (_name, pending) => {
    expect(() => windowAt(pending)).toThrow(InvariantViolation);
  });

  it('orders payments received in the same millisecond by payment id', () => {
    expect(windowAt([payment('p1', '1'), payment('p2', '1')]).remaining).toHaveLength(2);
    expect(() => windowAt([payment('p2', '1'), payment('p1', '1')])).toThrow(InvariantViolation);
  });

  it.each([
    ['a zero threshold', { thresholdUsd: new Decimal(0) }],
    ['a negative threshold', { thresholdUsd: new Decimal(-1) }],
    ['membersMax 0', { membersMax: 0 }],
    ['a negative maxWait', { maxWaitMs: -1 }],
  ])('crashes on %s', (_name, options) => {
    expect(() => windowAt([payment('p1', '1')], options)).toThrow(InvariantViolation);
  });
});
