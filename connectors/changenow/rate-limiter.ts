// A token bucket that makes requests wait for their turn instead of dropping them. ChangeNow limits
// requests per API key, so every client in the process that talks to the same API root shares one
// bucket (a module-level registry): two connectors' clients together still stay under the limit.
//
// Implemented as its equivalent, the generic cell rate algorithm: each `acquire` reserves the next
// free slot synchronously, so waiters are served in call order and none is ever skipped.
import { assertInvariant } from '../../core/errors.ts';

export interface RateLimiterOptions {
  ratePerSecond: number;
  /** Requests that may go at once after an idle spell; 1 spaces every request evenly. */
  burst: number;
  /** Injected so tests can run the schedule on a fake clock. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Resolves when the caller may send one request; returns how long it waited, in ms. */
  acquire(): Promise<number>;
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { ratePerSecond, burst } = options;
  assertInvariant(Number.isFinite(ratePerSecond) && ratePerSecond > 0, 'rate limit must be a positive number per second', { ratePerSecond });
  assertInvariant(Number.isInteger(burst) && burst >= 1, 'rate limit burst must be a positive integer', { burst });
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepReal;
  const intervalMs = 1_000 / ratePerSecond;
  const toleranceMs = (burst - 1) * intervalMs;
  // The theoretical arrival time of the next request when the bucket is drained at exactly the rate.
  let nextSlotMs = Number.NEGATIVE_INFINITY;

  return {
    ratePerSecond,
    burst,
    async acquire(): Promise<number> {
      const nowMs = now();
      const slotMs = Math.max(nextSlotMs, nowMs);
      nextSlotMs = slotMs + intervalMs;
      // Timers may fire a fraction of a millisecond early; rounding up keeps the spacing a floor.
      const waitMs = Math.max(0, Math.ceil(slotMs - toleranceMs - nowMs));
      if (waitMs > 0) await sleep(waitMs);
      return waitMs;
    },
  };
}

const sharedLimiters = new Map<string, RateLimiter>();

/**
 * The process-wide limiter for one API root. Clients of the same root must agree on the limit:
 * two different limits for one key would leave the real limit to whichever came first.
 */
export function sharedRateLimiter(apiRoot: string, options: Pick<RateLimiterOptions, 'ratePerSecond' | 'burst'>): RateLimiter {
  const key = rateLimiterKeyOf(apiRoot);
  const existing = sharedLimiters.get(key);
  if (existing !== undefined) {
    assertInvariant(
      existing.ratePerSecond === options.ratePerSecond && existing.burst === options.burst,
      'clients of one ChangeNow API root must share one rate limit',
      { apiRoot: key, existing: { ratePerSecond: existing.ratePerSecond, burst: existing.burst }, requested: options },
    );
    return existing;
  }
  const limiter = createRateLimiter(options);
  sharedLimiters.set(key, limiter);
  return limiter;
}

function rateLimiterKeyOf(apiRoot: string): string {
  const url = new URL(apiRoot);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
