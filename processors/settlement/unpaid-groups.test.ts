// Proves the running state's rules with fast-check: arrivals added one notification at a time give
// the exact totals of the credits (no money lost or invented), and mayBeDue never says "not due" of
// a group the full decision (payout-window.ts, triggerOf) finds due — on the exact state and on any
// over-estimate of it (a larger sum, an earlier oldest credit, an unknown threshold).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { triggerOf, type GroupKey, type GroupSummary } from './payout-window.ts';
import { addArrival, mayBeDue, remainderAfter, type GroupState } from './unpaid-groups.ts';

const key: GroupKey = { clientId: '-1001', walletAddress: 'w', payoutCurrency: 'xmr', payoutNetwork: 'xmr' };
const start = Date.parse('2026-12-03T10:00:00.000Z');
const maxAgeMs = 1_000_000;
const usdtOf = (units: bigint): Decimal => new Decimal(units.toString()).div(1_000_000);

const credit = fc.record({ units: fc.bigInt({ min: 0n, max: 10_000_000_000n }), ageMs: fc.nat({ max: 2_000_000 }) });
const threshold = fc.option(fc.bigInt({ min: 1n, max: 20_000_000_000n }), { nil: null });

function summaryOf(credits: readonly { units: bigint; ageMs: number }[], thresholdUnits: bigint | null, now: number): GroupSummary {
  return {
    key,
    unpaidUsdt: credits.reduce((sum, each) => sum.plus(usdtOf(each.units)), new Decimal(0)),
    creditCount: credits.length,
    oldestCreditedAt: new Date(Math.min(...credits.map((each) => now - each.ageMs))),
    thresholdUsd: thresholdUnits === null ? null : usdtOf(thresholdUnits),
    manual: false,
  };
}

describe('the running state of a payout group', () => {
  it('adds arrivals one at a time to the exact totals', () => {
    fc.assert(
      fc.property(fc.array(credit, { minLength: 1, maxLength: 30 }), threshold, (credits, thresholdUnits) => {
        const now = start;
        const exact = summaryOf(credits, thresholdUnits, now);
        let state: GroupState | undefined;
        for (const each of credits) {
          state = addArrival(state, { key, usdt: usdtOf(each.units), oldestCreditedAt: new Date(now - each.ageMs), thresholdUsd: exact.thresholdUsd });
        }
        expect(state?.unpaidUsdt.eq(exact.unpaidUsdt)).toBe(true);
        expect(state?.oldestCreditedAt.getTime()).toBe(exact.oldestCreditedAt.getTime());
      }),
    );
  });

  it('never calls a due group not due, on the exact state or on any over-estimate of it', () => {
    fc.assert(
      fc.property(
        fc.array(credit, { minLength: 1, maxLength: 30 }),
        threshold,
        fc.bigInt({ min: 0n, max: 10_000_000_000n }),
        fc.nat({ max: 2_000_000 }),
        fc.boolean(),
        (credits, thresholdUnits, extraUnits, earlierMs, forget) => {
          const now = new Date(start);
          const exact = summaryOf(credits, thresholdUnits, start);
          if (triggerOf(exact, { maxAgeMs, maxSwapUsdt: new Decimal(5000), feeFloorPercent: new Decimal(2) }, now) === null) return;
          const over: GroupState = {
            key,
            unpaidUsdt: exact.unpaidUsdt.plus(usdtOf(extraUnits)),
            oldestCreditedAt: new Date(exact.oldestCreditedAt.getTime() - earlierMs),
            thresholdUsd: forget ? undefined : exact.thresholdUsd,
          };
          expect(mayBeDue({ ...exact, thresholdUsd: exact.thresholdUsd }, maxAgeMs, now)).toBe(true);
          expect(mayBeDue(over, maxAgeMs, now)).toBe(true);
        },
      ),
    );
  });

  it('keeps a group whose unpaid credits were not all paid, even if what is left is 0 USDT', () => {
    const exact = summaryOf([{ units: 5_000_000n, ageMs: 10 }, { units: 0n, ageMs: 5 }], 1_000_000n, start);
    expect(remainderAfter(exact, { usdt: new Decimal(5), credits: 1 })?.unpaidUsdt.toFixed()).toBe('0');
    expect(remainderAfter(exact, { usdt: new Decimal(5), credits: 2 })).toBeUndefined();
  });
});
