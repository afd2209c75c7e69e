// The coalesced runner of a window evaluation (the accumulator's global window, settlement's
// per-client windows): one evaluation at a time, timed, its outcome reported, its failure logged
// and counted. A failed evaluation rolled back, so nothing is half-done; the next trigger (at the
// latest the punctuation) tries again. A broken invariant will not fix itself: logged as fatal.
import type { Histogram } from 'prom-client';
import { InvariantViolation } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createCoalescingRunner, type CoalescingRunner } from './coalescing-runner.ts';

export interface WindowRunnerOptions<E> {
  evaluate: () => Promise<E>;
  /** Metrics and logs of a committed evaluation. */
  onEvaluated: (evaluation: E) => void;
  evaluationSeconds: Histogram;
  onFailed: () => void;
  log: Logger;
}

export function createWindowRunner<E>(options: WindowRunnerOptions<E>): CoalescingRunner {
  const { log } = options;
  return createCoalescingRunner(async () => {
    const stopTimer = options.evaluationSeconds.startTimer();
    try {
      options.onEvaluated(await options.evaluate());
    } catch (error) {
      options.onFailed();
      if (error instanceof InvariantViolation) log.fatal({ err: error }, 'window evaluation broke an invariant; rolled back');
      else log.warn({ err: error }, 'window evaluation failed; rolled back, the next trigger retries');
    } finally {
      stopTimer();
    }
  });
}
