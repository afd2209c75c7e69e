// Proves the notifier's pure parts without the stack: the URL list setting, the backoff schedule of a
// failing delivery (doubling, capped, ending after its attempts, for any plan), which HTTP answers
// are retried, and the Slack-compatible message of an alert event.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Alert } from '../../schemas/generated/records.ts';
import { afterFailure, backoffSchedule, statusOutcome } from './delivery-plan.ts';
import { alertMessageOf } from './alert-message.ts';
import { parseWebhookUrls, redactedUrl } from './webhook-urls.ts';

describe('parseWebhookUrls', () => {
  it('reads a comma-separated list of http(s) URLs, trimmed, without duplicates', () => {
    expect(parseWebhookUrls(' https://hooks.slack.com/services/T/B/x , http://127.0.0.1:9000/alerts,https://hooks.slack.com/services/T/B/x')).toEqual({
      ok: true,
      urls: ['https://hooks.slack.com/services/T/B/x', 'http://127.0.0.1:9000/alerts'],
    });
  });

  it('reads nothing from an empty or missing setting', () => {
    expect(parseWebhookUrls(undefined)).toEqual({ ok: true, urls: [] });
    expect(parseWebhookUrls(' , ')).toEqual({ ok: true, urls: [] });
  });

  it('refuses what is not an http(s) URL, or carries credentials', () => {
    expect(parseWebhookUrls('hooks.slack.com/x')).toEqual({ ok: false, problem: 'not a URL: hooks.slack.com/x' });
    expect(parseWebhookUrls('ftp://example.com/x')).toEqual({ ok: false, problem: 'not an http(s) URL: ftp://example.com/x' });
    expect(parseWebhookUrls('https://user:secret@example.com/x')).toEqual({ ok: false, problem: 'credentials in a URL are not allowed: example.com' });
  });

  it('shows only scheme and host of a URL in logs', () => {
    expect(redactedUrl('https://hooks.slack.com/services/T000/B000/secret')).toBe('https://hooks.slack.com/…');
  });
});

describe('the delivery plan', () => {
  it('doubles from the first delay up to the cap, and gives up after the last attempt', () => {
    expect(backoffSchedule({ attemptsMax: 6, backoffInitialMs: 1_000, backoffMaxMs: 5_000 })).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(afterFailure({ attemptsMax: 1, backoffInitialMs: 1_000, backoffMaxMs: 5_000 }, 1)).toEqual({ retry: false });
  });

  it('for any plan: attemptsMax − 1 delays, never decreasing, never above the cap, the first one the initial delay (capped)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 3_600_000 }), fc.integer({ min: 1, max: 86_400_000 }), (attemptsMax, backoffInitialMs, backoffMaxMs) => {
        const delays = backoffSchedule({ attemptsMax, backoffInitialMs, backoffMaxMs });
        expect(delays).toHaveLength(attemptsMax - 1);
        if (delays.length > 0) expect(delays[0]).toBe(Math.min(backoffInitialMs, backoffMaxMs));
        for (const [index, delay] of delays.entries()) {
          expect(delay).toBeLessThanOrEqual(backoffMaxMs);
          expect(Number.isSafeInteger(delay)).toBe(true);
          if (index > 0) expect(delay).toBeGreaterThanOrEqual(delays[index - 1] as number);
        }
      }),
    );
  });

  it('retries 408, 429 and 5xx, not the other 4xx', () => {
    expect([200, 204, 299].map(statusOutcome)).toEqual(['delivered', 'delivered', 'delivered']);
    expect([408, 429, 500, 503].map(statusOutcome)).toEqual(['retriable', 'retriable', 'retriable', 'retriable']);
    expect([301, 400, 403, 404, 410].map(statusOutcome)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused']);
  });
});

describe('alertMessageOf', () => {
  const alert: Alert = {
    alert_id: 'payout_stuck:batch-7:1',
    finding_id: 'payout_stuck:batch-7',
    kind: 'payout_stuck',
    subject: 'batch-7',
    severity: 'CRITICAL',
    status: 'RAISED',
    detail: 'payout batch batch-7 swapping for 2h',
    first_seen: new Date('2026-12-03T08:00:00.000Z'),
    emitted_at: new Date('2026-12-03T09:00:00.000Z'),
  };

  it('is Slack-compatible text with severity, kind, subject, detail and since, and the fields beside it', () => {
    expect(alertMessageOf(alert)).toEqual({
      text: ':rotating_light: [CRITICAL] payout_stuck raised: batch-7\npayout batch batch-7 swapping for 2h\nsince 2026-12-03T08:00:00.000Z · alert payout_stuck:batch-7:1',
      dedupe_key: 'payout_stuck:batch-7:1',
      status: 'RAISED',
      severity: 'CRITICAL',
      kind: 'payout_stuck',
      subject: 'batch-7',
      detail: 'payout batch batch-7 swapping for 2h',
      since: '2026-12-03T08:00:00.000Z',
      emitted_at: '2026-12-03T09:00:00.000Z',
    });
  });

  it('says a cleared finding cleared', () => {
    expect(alertMessageOf({ ...alert, alert_id: 'payout_stuck:batch-7:2', status: 'CLEARED' }).text).toMatch(/^:white_check_mark: \[CRITICAL\] payout_stuck cleared: batch-7\n/);
  });
});
