// Proves the running summary's rules with fast-check: adding arrivals one notification at a time
// gives the exact summary of the rows (no money lost or invented), and the gate never skips an
// evaluation that would have closed a batch — on the exact summary and on any over-estimate of it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { arrivalOf } from '../../db/ledger-notifications.ts';
import { closeMicroBatches, type PendingPayment } from './micro-batch-window.ts';
import { addArrival, emptySummary, mayFire, mergeSummaries, summaryOf, type PendingSummary } from './pending-summary.ts';

const start = Date.parse('2026-11-21T10:00:00.000Z');
const usdScaleDivisor = new Decimal(10).pow(8);

const payment = fc.record({
  usdUnits: fc.bigInt({ min: 1n, max: 500_000_000_000n }),
  ageMs: fc.nat({ max: 2_000_000 }),
});

function pendingOf(payments: readonly { usdUnits: bigint; ageMs: number }[], now: number): PendingPayment[] {
  return payments
    .map((p, index) => ({
      paymentId: `p${String(index).padStart(5, '0')}`,
      usdNet: new Decimal(p.usdUnits.toString()).div(usdScaleDivisor),
      ethNet: new Decimal('0.001'),
      receivedAt: new Date(now - p.ageMs),
    }))
    .sort((left, right) => left.receivedAt.getTime() - right.receivedAt.getTime() || (left.paymentId < right.paymentId ? -1 : 1));
}

function exactlyEqual(left: PendingSummary, right: PendingSummary): boolean {
  return left.count === right.count && left.usdNet.equals(right.usdNet) && left.oldestReceivedAt?.getTime() === right.oldestReceivedAt?.getTime();
}

describe('the running summary', () => {
  it('adds notifications (any grouping of the rows into transactions) to the exact summary of the rows', () => {
    fc.assert(
      fc.property(fc.array(payment, { maxLength: 60 }), fc.array(fc.nat({ max: 5 }), { maxLength: 60 }), (payments, cuts) => {
        const pending = pendingOf(payments, start);
        let summary = emptySummary;
        let at = 0;
        for (const cut of cuts) {
          const group = pending.slice(at, at + cut + 1);
          at += group.length;
          const arrival = arrivalOf(group);
          if (arrival !== undefined) summary = addArrival(summary, arrival);
        }
        const rest = arrivalOf(pending.slice(at));
        if (rest !== undefined) summary = addArrival(summary, rest);
        expect(exactlyEqual(summary, summaryOf(pending))).toBe(true);
      }),
    );
  });

  it('never says "cannot fire" when the full evaluation would close a batch, even when it over-estimates', () => {
    fc.assert(
      fc.property(
        fc.array(payment, { maxLength: 40 }),
        fc.array(payment, { maxLength: 10 }),
        fc.bigInt({ min: 1n, max: 2_000_000_000_000n }),
        fc.integer({ min: 1, max: 1_800_000 }),
        (payments, gone, thresholdUnits, maxWaitMs) => {
          const now = new Date(start);
          const pending = pendingOf(payments, start);
          const thresholdUsd = new Decimal(thresholdUnits.toString()).div(usdScaleDivisor);
          const decision = closeMicroBatches({ pending, thresholdUsd, maxWaitMs, membersMax: 1_000, now, newBatchId: () => 'b' });
          // Rows another instance already closed: still in our summary, no longer pending.
          const staleHigh = mergeSummaries(summaryOf(pending), summaryOf(pendingOf(gone, start)));
          const rules = { thresholdUsd, maxWaitMs, now };
          if (decision.batches.length > 0) {
            expect(mayFire(summaryOf(pending), rules)).toBe(true);
            expect(mayFire(staleHigh, rules)).toBe(true);
          }
          // And it is exact when nothing was lost: "may fire" on the exact rows means a batch closes.
          expect(mayFire(summaryOf(pending), rules)).toBe(decision.batches.length > 0);
        },
      ),
    );
  });

  it('is empty and cannot fire when nothing is pending', () => {
    expect(mayFire(emptySummary, { thresholdUsd: new Decimal('0.00000001'), maxWaitMs: 0, now: new Date(start) })).toBe(false);
  });

  it('fires at the exact boundaries of the window: the threshold reached, maxWait waited', () => {
    const oldest = new Date(start);
    const summary: PendingSummary = { count: 2, usdNet: new Decimal('19.99999999'), oldestReceivedAt: oldest };
    const rules = { thresholdUsd: new Decimal('20'), maxWaitMs: 60_000, now: new Date(start + 59_999) };
    expect(mayFire(summary, rules)).toBe(false);
    expect(mayFire(addArrival(summary, { count: 1, usdNet: new Decimal('0.00000001'), oldestReceivedAt: new Date(start + 1) }), rules)).toBe(true);
    expect(mayFire(summary, { ...rules, now: new Date(start + 60_000) })).toBe(true);
  });
});
