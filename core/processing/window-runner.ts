// The coalesced runner of a window evaluation (the accumulator's global window, settlement's
// per-client windows): one evaluation at a time, timed, its outcome reported, its failure logged
// and counted. A failed evaluation rolled back, so nothing is half-done; the next trigger (at the
// latest the punctuation) tries again. A broken invariant will not fix itself: it stops the process
// (`onFatal`), which fails /ready with the reason and exits non-zero once drained.
import type { Histogram } from 'prom-client';
import { InvariantViolation } from '../errors.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Shutdown } from '../shutdown.ts';
import type { StackEndpoints } from '../endpoints.ts';
import { createCoalescingRunner, type CoalescingRunner } from './coalescing-runner.ts';

export interface WindowRunnerOptions<E> {
  evaluate: () => Promise<E>;
  /** Metrics and logs of a committed evaluation. */
  onEvaluated: (evaluation: E) => void;
  evaluationSeconds: Histogram;
  onFailed: () => void;
  /** A broken invariant: the process stops. */
  onFatal: (error: InvariantViolation) => void;
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
      if (error instanceof InvariantViolation) options.onFatal(error);
      else log.warn({ err: error }, 'window evaluation failed; rolled back, the next trigger retries');
    } finally {
      stopTimer();
    }
  });
}

/** How a window process (the accumulator, settlement) is started, in production and in tests. */
export interface StartWindowProcessOptions {
  config: Config;
  endpoints: StackEndpoints;
  log?: Logger;
  /** 0 picks a free port (tests). */
  port?: number;
  /** The clock of the window's time triggers and of every timestamp the process writes. */
  now?: () => Date;
  newBatchId?: () => string;
  /** How the process ends after a broken invariant, once drained; default `process.exit`. */
  exit?: (code: number) => void;
}

export interface RunningWindowProcess {
  readonly url: string;
  readonly shutdown: Shutdown;
  /** Requests an evaluation and resolves once one that started after the request has finished. */
  evaluateNow(): Promise<void>;
  stop(): Promise<void>;
}
