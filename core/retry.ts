// The one retry mechanism every component uses: exponential backoff with full jitter, bounded by
// attempts and by total time, and bailing out at once on an error that retrying cannot fix.
import { isRetriable } from './errors.ts';

export interface RetryOptions {
  attemptsMax: number;
  delayInitialMs: number;
  delayMaxMs: number;
  totalMs: number;
  /** Decides whether an error is worth another attempt; defaults to the error's `retriable` flag. */
  shouldRetry?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Injected so tests can run the schedule without waiting. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export type Retry = <T>(operation: (attempt: number) => Promise<T>) => Promise<T>;

export const defaultRetryOptions: RetryOptions = {
  attemptsMax: 8,
  delayInitialMs: 100,
  delayMaxMs: 5_000,
  totalMs: 30_000,
};

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createRetry(options: Partial<RetryOptions> = {}): Retry {
  const settings: RetryOptions = { ...defaultRetryOptions, ...options };
  const shouldRetry = settings.shouldRetry ?? isRetriable;
  const sleep = settings.sleep ?? sleepReal;
  const now = settings.now ?? Date.now;
  const random = settings.random ?? Math.random;

  return async function retry<T>(operation: (attempt: number) => Promise<T>): Promise<T> {
    const startedAtMs = now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await operation(attempt);
      } catch (error) {
        const elapsedMs = now() - startedAtMs;
        const ceilingMs = Math.min(settings.delayMaxMs, settings.delayInitialMs * 2 ** (attempt - 1));
        const delayMs = Math.floor(random() * ceilingMs);
        const exhausted = attempt >= settings.attemptsMax || elapsedMs + delayMs > settings.totalMs;
        if (exhausted || !shouldRetry(error)) throw error;
        settings.onRetry?.(error, attempt, delayMs);
        await sleep(delayMs);
      }
    }
  };
}
