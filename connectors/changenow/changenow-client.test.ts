// Proves the client's retry policy and its classification table without a network: full-jitter
// backoff within its bounds, a 429's Retry-After honoured, the budget never overrun, and an exchange
// creation retried only when ChangeNow certainly created nothing. Runs on a fake clock.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCallRetry, type CallRetryOptions } from './changenow-client.ts';
import {
  ChangeNowAttemptError,
  ChangeNowRejectedError,
  changeNowEndpoints,
  classifyFetchFailure,
  classifyHttpStatus,
  parseRetryAfterMs,
  type RequestDelivery,
  type TransientReason,
} from './changenow-errors.ts';

const endpoint = changeNowEndpoints.exchangeById;

function attemptError(reason: TransientReason, delivery: RequestDelivery = 'maybe_delivered', retryAfterMs: number | null = null): ChangeNowAttemptError {
  return new ChangeNowAttemptError(endpoint, reason, { delivery, retryAfterMs, detail: 'test' });
}

function scheduleOf(options: Partial<CallRetryOptions> & { random?: () => number }, failures: readonly Error[]) {
  let nowMs = 0;
  const sleeps: number[] = [];
  const retry = createCallRetry({
    budgetMs: 60_000,
    delayInitialMs: 100,
    delayMaxMs: 2_000,
    attemptsMax: 100,
    mayRetry: () => true,
    now: () => nowMs,
    sleep: (ms) => {
      sleeps.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
    ...options,
  });
  let attempts = 0;
  const outcome = retry((attempt) => {
    attempts = attempt;
    const failure = failures[attempt - 1];
    return failure === undefined ? Promise.resolve('answer') : Promise.reject(failure);
  });
  return { outcome, sleeps, attempts: () => attempts, elapsedMs: () => nowMs };
}

describe('createCallRetry', () => {
  it('waits a full-jitter delay below min(max, initial * 2^(n-1)) before attempt n+1 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0, max: 0.999_999, noNaN: true }), { minLength: 1, maxLength: 12 }), async (randoms) => {
        let draw = 0;
        const failures = randoms.map(() => attemptError('server_error'));
        const schedule = scheduleOf({ random: () => randoms[draw++ % randoms.length] ?? 0 }, failures);
        await expect(schedule.outcome).resolves.toBe('answer');
        expect(schedule.sleeps).toHaveLength(randoms.length);
        schedule.sleeps.forEach((delayMs, index) => {
          expect(delayMs).toBeGreaterThanOrEqual(0);
          expect(delayMs).toBeLessThan(Math.min(2_000, 100 * 2 ** index));
        });
      }),
    );
  });

  it('never retries sooner than a 429 asks', async () => {
    const schedule = scheduleOf({ random: () => 0 }, [attemptError('rate_limited', 'not_delivered', 1_500)]);
    await expect(schedule.outcome).resolves.toBe('answer');
    expect(schedule.sleeps).toEqual([1_500]);
  });

  it('gives up at once when a Retry-After would end past the budget', async () => {
    const failure = attemptError('rate_limited', 'not_delivered', 61_000);
    const schedule = scheduleOf({}, [failure]);
    await expect(schedule.outcome).rejects.toBe(failure);
    expect(schedule.sleeps).toEqual([]);
  });

  it('stops within the budget when every attempt fails, and throws the last failure', async () => {
    const failures = Array.from({ length: 1_000 }, (_, index) => attemptError(index % 2 === 0 ? 'timeout' : 'server_error'));
    const schedule = scheduleOf({ budgetMs: 5_000, random: () => 0.999 }, failures);
    const failure = await schedule.outcome.then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBe(failures[schedule.attempts() - 1]);
    expect(schedule.elapsedMs()).toBeLessThanOrEqual(5_000);
    expect(schedule.attempts()).toBeGreaterThan(3);
  });

  it('stops at the attempt limit', async () => {
    const failures = Array.from({ length: 10 }, () => attemptError('network'));
    const schedule = scheduleOf({ attemptsMax: 4 }, failures);
    await expect(schedule.outcome).rejects.toBeInstanceOf(ChangeNowAttemptError);
    expect(schedule.attempts()).toBe(4);
  });

  it('does not retry a rejection', async () => {
    const rejection = new ChangeNowRejectedError(endpoint, 400, 'not_valid_params', 'bad pair');
    const schedule = scheduleOf({}, [rejection]);
    await expect(schedule.outcome).rejects.toBe(rejection);
    expect(schedule.attempts()).toBe(1);
  });

  it('retries a creation only while ChangeNow certainly created nothing', async () => {
    const creationPolicy = { mayRetry: (error: ChangeNowAttemptError) => error.delivery === 'not_delivered' };
    const refusedThenLimited = scheduleOf(creationPolicy, [attemptError('network', 'not_delivered'), attemptError('rate_limited', 'not_delivered', 10)]);
    await expect(refusedThenLimited.outcome).resolves.toBe('answer');
    expect(refusedThenLimited.attempts()).toBe(3);

    const timedOut = attemptError('timeout', 'maybe_delivered');
    const unclear = scheduleOf(creationPolicy, [attemptError('rate_limited', 'not_delivered'), timedOut]);
    await expect(unclear.outcome).rejects.toBe(timedOut);
    expect(unclear.attempts()).toBe(2);
  });
});

describe('classification', () => {
  it.each([
    [200, { kind: 'success' }],
    [429, { kind: 'transient', reason: 'rate_limited', delivery: 'not_delivered' }],
    [500, { kind: 'transient', reason: 'server_error', delivery: 'maybe_delivered' }],
    [503, { kind: 'transient', reason: 'server_error', delivery: 'maybe_delivered' }],
    [400, { kind: 'rejected' }],
    [401, { kind: 'rejected' }],
    [404, { kind: 'rejected' }],
    [302, { kind: 'rejected' }],
  ])('HTTP %i is %o', (status, expected) => {
    expect(classifyHttpStatus(status)).toEqual(expected);
  });

  it('knows a refused connection sent nothing, and a reset or timeout may have', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    const reset = new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    expect(classifyFetchFailure(refused, false)).toEqual({ reason: 'network', delivery: 'not_delivered', code: 'ECONNREFUSED' });
    expect(classifyFetchFailure(reset, false)).toEqual({ reason: 'network', delivery: 'maybe_delivered', code: 'UND_ERR_SOCKET' });
    expect(classifyFetchFailure(new Error('aborted'), true)).toEqual({ reason: 'timeout', delivery: 'maybe_delivered', code: null });
    expect(classifyFetchFailure(new Error('unknown'), false).delivery).toBe('maybe_delivered');
  });

  it('reads Retry-After in seconds or as an HTTP date', () => {
    const nowMs = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs('2', nowMs)).toBe(2_000);
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:03 GMT', nowMs)).toBe(3_000);
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 00:00:00 GMT', nowMs)).toBe(0);
    expect(parseRetryAfterMs('soon', nowMs)).toBeNull();
    expect(parseRetryAfterMs(null, nowMs)).toBeNull();
  });
});
