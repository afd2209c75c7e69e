// When a failed delivery is tried again, and when it is given up: exponential backoff from a first
// delay, doubled per attempt up to a cap, for a fixed number of attempts. Pure, so the schedule is
// tested without a clock; the worker (delivery-worker.ts) stores the next attempt's time in the
// delivery's row, so a restart resumes the schedule instead of starting it again.

export interface DeliveryPlan {
  /** Attempts in all, the first included (≥ 1). */
  readonly attemptsMax: number;
  /** Delay after the first failed attempt (ms). */
  readonly backoffInitialMs: number;
  /** No delay exceeds this (ms). */
  readonly backoffMaxMs: number;
}

export type AfterFailure = { readonly retry: true; readonly delayMs: number } | { readonly retry: false };

/** What follows the failure of attempt `attempt` (1 = the first): another attempt after a delay, or the end. */
export function afterFailure(plan: DeliveryPlan, attempt: number): AfterFailure {
  if (attempt >= plan.attemptsMax) return { retry: false };
  // 2^(attempt−1) grows past any cap quickly; the exponent is bounded so the number stays finite.
  const factor = 2 ** Math.min(attempt - 1, 40);
  return { retry: true, delayMs: Math.min(plan.backoffMaxMs, plan.backoffInitialMs * factor) };
}

/** The whole schedule: the delays between consecutive attempts (attemptsMax − 1 of them). */
export function backoffSchedule(plan: DeliveryPlan): readonly number[] {
  const delays: number[] = [];
  for (let attempt = 1; ; attempt += 1) {
    const next = afterFailure(plan, attempt);
    if (!next.retry) return delays;
    delays.push(next.delayMs);
  }
}

/** Which HTTP answers are worth another attempt: 2xx is delivered; 408, 429 and 5xx may pass later; any other answer (4xx, or a 3xx: redirects are not followed) will not. */
export function statusOutcome(status: number): 'delivered' | 'retriable' | 'refused' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retriable';
  return 'refused';
}
