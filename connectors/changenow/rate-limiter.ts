// The rate schedule of ChangeNow requests: a token bucket that makes requests wait for their turn
// instead of dropping them, implemented as its equivalent, the generic cell rate algorithm — each
// reservation takes the next free slot, so waiters are served in call order and none is skipped.
//
// The clients use the shared budget (rate-budget.ts), which keeps the next slot in PostgreSQL so
// every process calling ChangeNow with one API key draws from one budget. This module is the same
// schedule on an injected clock, in one process: the pure arithmetic both share, and the model the
// unit tests prove the schedule on.
import { assertInvariant } from '../../core/errors.ts';

/** One reserved request slot: when it was due (ms since the epoch, the budget's clock) and how long the caller slept. */
export interface RateSlot {
  readonly slotAtMs: number;
  readonly waitedMs: number;
}

/** A source of request slots; `acquire` resolves when the caller may send one request. */
export interface RateBudget {
  readonly ratePerSecond: number;
  readonly burst: number;
  acquire(): Promise<RateSlot>;
}

export interface RateLimiterOptions {
  ratePerSecond: number;
  /** Requests that may go at once after an idle spell; 1 spaces every request evenly. */
  burst: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The next theoretical arrival time after reserving one slot at `nowMs`. */
export function gcraNextSlotMs(nextSlotMs: number, nowMs: number, intervalMs: number): number {
  return Math.max(nextSlotMs, nowMs) + intervalMs;
}

/**
 * How long the holder of the slot at `slotMs` waits from `nowMs`. Timers may fire a fraction of a
 * millisecond early; rounding up keeps the spacing a floor.
 */
export function gcraWaitMs(slotMs: number, nowMs: number, toleranceMs: number): number {
  return Math.max(0, Math.ceil(slotMs - toleranceMs - nowMs));
}

export const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The spacing of slots and how far ahead of its slot a request may go, for a checked rate and burst. */
export function rateScheduleOf(ratePerSecond: number, burst: number): { readonly intervalMs: number; readonly toleranceMs: number } {
  assertInvariant(Number.isFinite(ratePerSecond) && ratePerSecond > 0, 'rate limit must be a positive number per second', { ratePerSecond });
  assertInvariant(Number.isInteger(burst) && burst >= 1, 'rate limit burst must be a positive integer', { burst });
  const intervalMs = 1_000 / ratePerSecond;
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs };
}

/** The schedule in one process, on an injectable clock. */
export function createRateLimiter(options: RateLimiterOptions): RateBudget {
  const { ratePerSecond, burst } = options;
  const { intervalMs, toleranceMs } = rateScheduleOf(ratePerSecond, burst);
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepReal;
  // The theoretical arrival time of the next request when the bucket is drained at exactly the rate.
  let nextSlotMs = Number.NEGATIVE_INFINITY;

  return {
    ratePerSecond,
    burst,
    async acquire(): Promise<RateSlot> {
      const nowMs = now();
      nextSlotMs = gcraNextSlotMs(nextSlotMs, nowMs, intervalMs);
      const slotAtMs = nextSlotMs - intervalMs;
      const waitedMs = gcraWaitMs(slotAtMs, nowMs, toleranceMs);
      if (waitedMs > 0) await sleep(waitedMs);
      return { slotAtMs, waitedMs };
    },
  };
}
