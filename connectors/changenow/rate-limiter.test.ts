// Proves the ChangeNow rate schedule on a fake clock (exact schedule, call order, no drops) and its
// arithmetic, which the shared budget (rate-budget.ts) runs in SQL: reserved slots are an interval
// apart whatever the arrival times. That two processes share one budget is proved against
// PostgreSQL in rate-budget.int.test.ts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvariantViolation } from '../../core/errors.ts';
import { createRateLimiter, gcraNextSlotMs, gcraWaitMs, type RateBudget } from './rate-limiter.ts';

async function waitOf(limiter: RateBudget): Promise<number> {
  return (await limiter.acquire()).waitedMs;
}

function fakeClock() {
  let nowMs = 0;
  return {
    now: () => nowMs,
    sleep: (ms: number) => {
      nowMs += ms;
      return Promise.resolve();
    },
  };
}

describe('createRateLimiter', () => {
  it('lets a burst go at once, then spaces requests at the rate', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 3, now: () => 0, sleep: clock.sleep });
    // All six ask at t=0: the first three go now, the others wait 100, 200 and 300 ms.
    const waits = await Promise.all(Array.from({ length: 6 }, () => waitOf(limiter)));
    expect(waits).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills after an idle spell, never beyond the burst', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 2, ...clock });
    expect(await waitOf(limiter)).toBe(0);
    expect(await waitOf(limiter)).toBe(0);
    expect(await waitOf(limiter)).toBe(100);
    await clock.sleep(10_000);
    expect([await waitOf(limiter), await waitOf(limiter), await waitOf(limiter)]).toEqual([0, 0, 100]);
  });

  it('serves waiters in call order and drops none (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), async (rate, burst, requests) => {
        const limiter = createRateLimiter({ ratePerSecond: rate, burst, now: () => 0, sleep: () => Promise.resolve() });
        const waits = await Promise.all(Array.from({ length: requests }, () => waitOf(limiter)));
        const intervalMs = 1_000 / rate;
        waits.forEach((waitMs, index) => {
          // Slots are summed in floating point; rounding up may add one millisecond, never remove one.
          const exactMs = Math.max(0, (index - burst + 1) * intervalMs);
          expect(waitMs).toBeGreaterThanOrEqual(Math.floor(exactMs));
          expect(waitMs).toBeLessThanOrEqual(Math.ceil(exactMs) + 1);
          if (index > 0) expect(waitMs).toBeGreaterThanOrEqual(waits[index - 1] ?? 0);
        });
      }),
    );
  });

  it('refuses a rate or burst that would not limit anything', () => {
    expect(() => createRateLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(InvariantViolation);
    expect(() => createRateLimiter({ ratePerSecond: 10, burst: 0 })).toThrow(InvariantViolation);
  });
});

describe('the schedule arithmetic', () => {
  it('gives slots at least one interval apart, whenever the requests arrive (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 2, maxLength: 60 }), (rate, gaps) => {
        const intervalMs = 1_000 / rate;
        let nowMs = 0;
        let nextSlotMs = Number.NEGATIVE_INFINITY;
        const slots: number[] = [];
        for (const gap of gaps) {
          nowMs += gap;
          nextSlotMs = gcraNextSlotMs(nextSlotMs, nowMs, intervalMs);
          const slotMs = nextSlotMs - intervalMs;
          // Never a slot in the past, never one closer than an interval to the previous one (up to float rounding).
          expect(slotMs).toBeGreaterThanOrEqual(nowMs - 1e-6);
          const previous = slots.at(-1);
          if (previous !== undefined) expect(slotMs - previous).toBeGreaterThanOrEqual(intervalMs - 1e-6);
          slots.push(slotMs);
        }
      }),
    );
  });

  it('waits until the slot less the burst tolerance, rounded up, never negative', () => {
    expect(gcraWaitMs(1_000, 900, 0)).toBe(100);
    expect(gcraWaitMs(1_000, 900, 50)).toBe(50);
    expect(gcraWaitMs(1_000, 999.2, 0)).toBe(1);
    expect(gcraWaitMs(1_000, 2_000, 0)).toBe(0);
  });
});
