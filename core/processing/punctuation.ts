// Wall-clock punctuation (Kafka Streams' term): a callback run on a timer, so a window's time
// trigger fires even when no record arrives. Runs never overlap; a failed run is logged and the
// next tick tries again (the callback is idempotent by construction).
import type { Logger } from '../logger.ts';

export interface Punctuation {
  stop(): Promise<void>;
}

export interface PunctuationOptions {
  intervalMs: number;
  run: () => Promise<void>;
  log: Logger;
}

export function startPunctuation(options: PunctuationOptions): Punctuation {
  let stopped = false;
  let current: Promise<void> | undefined;
  const timer = setInterval(() => {
    // A tick that finds the previous run still going is skipped, so slow runs never queue up.
    if (stopped || current !== undefined) return;
    current = options
      .run()
      .catch((error: unknown) => options.log.warn({ err: error }, 'punctuation failed; next tick retries'))
      .finally(() => {
        current = undefined;
      });
  }, options.intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
