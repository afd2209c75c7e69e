// Punctuation (Kafka Streams' term): a callback run on the clock's timer, so a window's time
// trigger fires even when no record arrives. Runs never overlap; a failed run is logged and the
// next tick tries again (the callback is idempotent by construction). The clock is injected, so a
// test advances a manual clock instead of sleeping.
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';

export interface Punctuation {
  stop(): Promise<void>;
}

export interface PunctuationOptions {
  intervalMs: number;
  run: () => Promise<void>;
  log: Logger;
  /** Default: the system clock. */
  clock?: Clock;
}

export function startPunctuation(options: PunctuationOptions): Punctuation {
  const clock = options.clock ?? systemClock;
  let stopped = false;
  let current: Promise<void> | undefined;
  const timer = clock.every(options.intervalMs, () => {
    // A tick that finds the previous run still going is skipped, so slow runs never queue up.
    if (stopped || current !== undefined) return;
    current = options
      .run()
      .catch((error: unknown) => options.log.warn({ err: error }, 'punctuation failed; next tick retries'))
      .finally(() => {
        current = undefined;
      });
  });
  return {
    async stop() {
      stopped = true;
      timer.cancel();
      await current;
    },
  };
}
