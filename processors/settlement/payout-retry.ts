// When a failed payout batch is retried. A retry is a new batch with a new command id (the
// connector creates at most one exchange per command, so reusing the failed one's id would never
// run again); `attempts` on a batch counts the failed batches of its chain before it (0 for the
// first). After PAYOUT_RETRY_ATTEMPTS_MAX automatic retries the chain stops and an operator is
// alerted; the operator can still retry it by hand.

export interface RetryRules {
  readonly attemptsMax: number;
  readonly backoffMs: number;
}

export type RetrySchedule = { readonly kind: 'retry'; readonly at: Date } | { readonly kind: 'exhausted' };

/** PAYOUT_RETRY_BACKOFF × 2^attempts after the failure, while automatic retries are left. */
export function retryAfterFailure(attempts: number, failedAt: Date, rules: RetryRules): RetrySchedule {
  if (attempts >= rules.attemptsMax) return { kind: 'exhausted' };
  // Capped exponent: 2^30 backoffs are decades already, and the product must stay a safe integer.
  const delayMs = rules.backoffMs * 2 ** Math.min(attempts, 30);
  return { kind: 'retry', at: new Date(failedAt.getTime() + delayMs) };
}

/** A failed batch as settlement finds it when it handles an operator's retry request. */
export interface RetryRequestTarget {
  readonly state: string;
  /** The batch that already retries it, if any. */
  readonly retriedBy: string | null;
  readonly nextRetryAt: Date | null;
}

export type RetryRequestDecision =
  | { readonly outcome: 'retry_scheduled'; readonly retryAt: Date; readonly detail: string }
  | { readonly outcome: 'not_failed' | 'already_retried'; readonly detail: string };

/**
 * What an operator's retry request does: only a failed batch without a retry can be retried. An
 * automatic retry already due earlier keeps its time; otherwise the retry is due now. The admin
 * API checked the same before it accepted the request; this is decided again under the settlement
 * lock, because the batch may have been retried in between.
 */
export function decideRetryRequest(target: RetryRequestTarget, now: Date): RetryRequestDecision {
  if (target.state !== 'failed') return { outcome: 'not_failed', detail: `the batch is ${target.state}; only a failed batch can be retried` };
  if (target.retriedBy !== null) return { outcome: 'already_retried', detail: `the batch was already retried as ${target.retriedBy}` };
  const retryAt = target.nextRetryAt !== null && target.nextRetryAt.getTime() <= now.getTime() ? target.nextRetryAt : now;
  return { outcome: 'retry_scheduled', retryAt, detail: `retry due at ${retryAt.toISOString()}` };
}
