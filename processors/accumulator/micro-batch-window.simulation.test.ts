// Proves the micro-batch window's invariants with fast-check over random payment streams,
// thresholds, threshold changes and clock ticks, applying the window after every step as the
// processor does: each payment ends in exactly one batch or stays pending, batch totals are the
// exact sums of their members, no batch closes early, and the window never sits on a crossing.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Decimal, ethScale, fromBaseUnits, usdScale } from '../../core/money.ts';
import { closeMicroBatches, comparePending, totalsOf, waitedMs, type ConversionRange, type MicroBatch, type PendingPayment } from './micro-batch-window.ts';

type Step =
  | { kind: 'arrival'; usdUnits: bigint; ethUnits: bigint; lateMs: number }
  | { kind: 'tick'; advanceMs: number }
  | { kind: 'threshold'; usdUnits: bigint };

// USD amounts have 8 decimals and ETH 18, as in the ledger; the ranges cover cents to thousands.
const usdUnits = fc.bigInt({ min: 1n, max: 500_000_000_000n });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('arrival' as const), usdUnits, ethUnits: fc.bigInt({ min: 1n, max: 10n ** 21n }), lateMs: fc.nat({ max: 5_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), advanceMs: fc.nat({ max: 120_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('threshold' as const), usdUnits: fc.bigInt({ min: 1n, max: 2_000_000_000_000n }) }) },
);

const scenario = fc.record({
  initialThresholdUnits: fc.bigInt({ min: 1n, max: 2_000_000_000_000n }),
  maxWaitMs: fc.integer({ min: 1, max: 900_000 }),
  membersMax: fc.integer({ min: 1, max: 8 }),
  steps: fc.array(step, { minLength: 1, maxLength: 120 }),
});

interface Closed {
  batch: MicroBatch;
  now: Date;
  /** Σ usd of everything pending just before the evaluation that closed it. */
  pendingUsdBefore: Decimal;
}

it('keeps every invariant of the window over random streams, thresholds and ticks', () => {
  fc.assert(
    fc.property(scenario, ({ initialThresholdUnits, maxWaitMs, membersMax, steps }) => {
      let nowMs = Date.parse('2026-11-21T00:00:00.000Z');
      let threshold = fromBaseUnits(initialThresholdUnits, usdScale);
      let pending: PendingPayment[] = [];
      const arrived = new Map<string, PendingPayment>();
      const closed: Closed[] = [];
      let batchCount = 0;
      let paymentCount = 0;

      for (const current of steps) {
        if (current.kind === 'arrival') {
          paymentCount += 1;
          // A payment may reach the ledger a little after it was received (router lag), so it
          // can sort before payments already pending.
          const payment: PendingPayment = {
            paymentId: `p${String(paymentCount).padStart(5, '0')}`,
            usdNet: fromBaseUnits(current.usdUnits, usdScale),
            ethNet: fromBaseUnits(current.ethUnits, ethScale),
            receivedAt: new Date(nowMs - current.lateMs),
          };
          arrived.set(payment.paymentId, payment);
          pending = [...pending, payment].sort(comparePending);
        } else if (current.kind === 'tick') {
          nowMs += current.advanceMs;
        } else {
          threshold = fromBaseUnits(current.usdUnits, usdScale);
        }

        const now = new Date(nowMs);
        const before = totalsOf(pending).usd;
        const oldest = pending[0];
        const shouldClose = oldest !== undefined && (before.greaterThanOrEqualTo(threshold) || waitedMs(oldest, now) >= maxWaitMs);
        const decision = closeMicroBatches({ pending, thresholdUsd: threshold, maxWaitMs, membersMax, now, newBatchId: () => `b${++batchCount}` });

        // The window closes something exactly when a trigger holds, and never sits on a crossing.
        expect(decision.batches.length > 0).toBe(shouldClose);
        expect(totalsOf(decision.remaining).usd.lessThan(threshold) || decision.remaining.length === 0).toBe(true);
        const remainingOldest = decision.remaining[0];
        if (remainingOldest !== undefined) expect(waitedMs(remainingOldest, now)).toBeLessThan(maxWaitMs);
        for (const batch of decision.batches) closed.push({ batch, now, pendingUsdBefore: before });
        pending = [...decision.remaining];
      }

      // Every payment is in exactly one batch or still pending; a batch's members are in no other.
      const placement = new Map<string, string>();
      for (const { batch } of closed) {
        for (const member of batch.members) {
          expect(placement.has(member.paymentId)).toBe(false);
          placement.set(member.paymentId, batch.batchId);
        }
      }
      for (const payment of pending) {
        expect(placement.has(payment.paymentId)).toBe(false);
        placement.set(payment.paymentId, 'pending');
      }
      expect([...placement.keys()].sort()).toEqual([...arrived.keys()].sort());

      for (const { batch, now, pendingUsdBefore } of closed) {
        // Totals are the exact sums of the members as they arrived.
        let usd = new Decimal(0);
        let eth = new Decimal(0);
        for (const member of batch.members) {
          const original = arrived.get(member.paymentId);
          expect(original).toBeDefined();
          usd = usd.plus(original?.usdNet ?? 0);
          eth = eth.plus(original?.ethNet ?? 0);
        }
        expect(batch.totalUsd.equals(usd) && batch.totalEth.equals(eth)).toBe(true);
        expect(batch.members.length).toBeLessThanOrEqual(membersMax);
        // No batch closes below its threshold unless its oldest member waited maxWait, or it is
        // full because everything pending crossed the threshold.
        const oldestMember = batch.members[0];
        const waitedEnough = oldestMember !== undefined && waitedMs(oldestMember, now) >= maxWaitMs;
        const fullOnCrossing = batch.members.length === membersMax && pendingUsdBefore.greaterThanOrEqualTo(batch.thresholdUsd);
        expect(batch.totalUsd.greaterThanOrEqualTo(batch.thresholdUsd) || waitedEnough || fullOnCrossing).toBe(true);
        if (batch.trigger === 'MAX_WAIT') expect(waitedEnough).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
});

// With the exchange's range: over random streams and ranges (min up to half of max, as exchanges'
// ranges are), every batch fits the range, nothing is lost, what waits past a trigger is held with
// a reason, and a payment the exchange could take is never held above the maximum.
it('keeps every batch within the exchange range, and holds only what the range forbids', () => {
  const rangeScenario = fc.record({
    maxEthUnits: fc.bigInt({ min: 10n ** 15n, max: 10n ** 20n }),
    minShare: fc.integer({ min: 0, max: 50 }),
    maxWaitMs: fc.integer({ min: 1, max: 900_000 }),
    membersMax: fc.integer({ min: 1, max: 8 }),
    thresholdUnits: fc.bigInt({ min: 1n, max: 2_000_000_000_000n }),
    steps: fc.array(step, { minLength: 1, maxLength: 120 }),
  });
  fc.assert(
    fc.property(rangeScenario, ({ maxEthUnits, minShare, maxWaitMs, membersMax, thresholdUnits, steps }) => {
      const maxEth = fromBaseUnits(maxEthUnits, ethScale);
      const range: ConversionRange = { minEth: maxEth.times(minShare).dividedBy(100), maxEth };
      const threshold = fromBaseUnits(thresholdUnits, usdScale);
      let nowMs = Date.parse('2026-11-21T00:00:00.000Z');
      let pending: PendingPayment[] = [];
      let arrivedCount = 0;
      let closedCount = 0;
      let batchCount = 0;
      for (const current of steps) {
        if (current.kind === 'arrival') {
          arrivedCount += 1;
          const payment: PendingPayment = {
            paymentId: `p${String(arrivedCount).padStart(5, '0')}`,
            usdNet: fromBaseUnits(current.usdUnits, usdScale),
            ethNet: fromBaseUnits(current.ethUnits, ethScale),
            receivedAt: new Date(nowMs - current.lateMs),
          };
          pending = [...pending, payment].sort(comparePending);
        } else if (current.kind === 'tick') {
          nowMs += current.advanceMs;
        }
        const now = new Date(nowMs);
        const decision = closeMicroBatches({ pending, thresholdUsd: threshold, maxWaitMs, membersMax, now, newBatchId: () => `b${++batchCount}`, range });
        for (const batch of decision.batches) {
          expect(batch.totalEth.greaterThanOrEqualTo(range.minEth) && batch.totalEth.lessThanOrEqualTo(maxEth)).toBe(true);
          closedCount += batch.members.length;
        }
        const held = new Map(decision.holds.flatMap((hold) => hold.payments.map((payment) => [payment, hold.state] as const)));
        for (const payment of decision.remaining) {
          if (held.get(payment) === 'above_exchange_maximum') expect(payment.ethNet.greaterThan(maxEth)).toBe(true);
          else expect(payment.ethNet.lessThanOrEqualTo(maxEth)).toBe(true);
        }
        const free = decision.remaining.filter((payment) => !held.has(payment));
        expect(totalsOf(free).usd.lessThan(threshold) || free.length === 0).toBe(true);
        pending = [...decision.remaining];
      }
      expect(closedCount + pending.length).toBe(arrivedCount);
    }),
    { numRuns: 300 },
  );
});
