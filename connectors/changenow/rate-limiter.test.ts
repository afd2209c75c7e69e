// Proves the ChangeNow token bucket on a fake clock (exact schedule, call order, no drops) and on
// the real clock (N requests take at least (N - burst) / rate), and that clients of one API root
// share one bucket.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvariantViolation } from '../../core/errors.ts';
import { createRateLimiter, sharedRateLimiter } from './rate-limiter.ts';

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
    const waits = await Promise.all(Array.from({ length: 6 }, () => limiter.acquire()));
    expect(waits).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills after an idle spell, never beyond the burst', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 2, ...clock });
    expect(await limiter.acquire()).toBe(0);
    expect(await limiter.acquire()).toBe(0);
    expect(await limiter.acquire()).toBe(100);
    await clock.sleep(10_000);
    expect([await limiter.acquire(), await limiter.acquire(), await limiter.acquire()]).toEqual([0, 0, 100]);
  });

  it('serves waiters in call order and drops none (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), async (rate, burst, requests) => {
        const limiter = createRateLimiter({ ratePerSecond: rate, burst, now: () => 0, sleep: () => Promise.resolve() });
        const waits = await Promise.all(Array.from({ length: requests }, () => limiter.acquire()));
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

  it('on the real clock, N requests take at least (N - burst) / rate', async () => {
    const limiter = createRateLimiter({ ratePerSecond: 50, burst: 2 });
    const startedAtMs = performance.now();
    await Promise.all(Array.from({ length: 7 }, () => limiter.acquire()));
    // (7 - 2) / 50 s = 100 ms, less a few ms: timers count from the event loop's cached clock.
    expect(performance.now() - startedAtMs).toBeGreaterThanOrEqual(100 - 10);
  });

  it('refuses a rate or burst that would not limit anything', () => {
    expect(() => createRateLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(InvariantViolation);
    expect(() => createRateLimiter({ ratePerSecond: 10, burst: 0 })).toThrow(InvariantViolation);
  });
});

describe('sharedRateLimiter', () => {
  it('hands every client of one API root the same bucket', () => {
    const first = sharedRateLimiter('http://127.0.0.1:1/', { ratePerSecond: 10, burst: 1 });
    const second = sharedRateLimiter('http://127.0.0.1:1', { ratePerSecond: 10, burst: 1 });
    const other = sharedRateLimiter('http://127.0.0.1:2', { ratePerSecond: 10, burst: 1 });
    expect(second).toBe(first);
    expect(other).not.toBe(first);
  });

  it('refuses a second, different limit for the same root', () => {
    sharedRateLimiter('http://127.0.0.1:3', { ratePerSecond: 10, burst: 1 });
    expect(() => sharedRateLimiter('http://127.0.0.1:3', { ratePerSecond: 20, burst: 1 })).toThrow(InvariantViolation);
  });
});
