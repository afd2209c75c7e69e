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
