// Proves what settlement does with an operator's retry request, with no I/O: a failed batch without
// a retry gets its retry due now (or keeps an earlier automatic time), anything else is refused
// with the reason.
import { describe, expect, it } from 'vitest';
import { decideRetryRequest } from './payout-retry.ts';

const now = new Date('2026-12-01T12:00:00.000Z');
const earlier = new Date('2026-12-01T11:00:00.000Z');
const later = new Date('2026-12-01T13:00:00.000Z');

describe('an operator retry request', () => {
  it('makes a failed batch without a retry due now', () => {
    expect(decideRetryRequest({ state: 'failed', retriedBy: null, nextRetryAt: null }, now)).toMatchObject({ outcome: 'retry_scheduled', retryAt: now });
    expect(decideRetryRequest({ state: 'failed', retriedBy: null, nextRetryAt: later }, now)).toMatchObject({ outcome: 'retry_scheduled', retryAt: now });
  });

  it('keeps an automatic retry that is already due earlier', () => {
    expect(decideRetryRequest({ state: 'failed', retriedBy: null, nextRetryAt: earlier }, now)).toMatchObject({ outcome: 'retry_scheduled', retryAt: earlier });
  });

  it('refuses a batch that did not fail, or that was retried meanwhile', () => {
    expect(decideRetryRequest({ state: 'swapping', retriedBy: null, nextRetryAt: null }, now)).toEqual({ outcome: 'not_failed', detail: 'the batch is swapping; only a failed batch can be retried' });
    expect(decideRetryRequest({ state: 'failed', retriedBy: 'b-2', nextRetryAt: null }, now)).toEqual({ outcome: 'already_retried', detail: 'the batch was already retried as b-2' });
  });
});
