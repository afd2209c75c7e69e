// Drains a process on SIGTERM/SIGINT: stop taking work, finish what is in flight, close
// connections — in the reverse order of start-up — and exit. A second signal, or the drain taking
// longer than its limit, exits at once: correctness never depends on a clean shutdown (every effect
// is idempotent), only politeness does.
import type { Logger } from './logger.ts';

export type Closer = () => Promise<void>;

export interface ShutdownOptions {
  log: Logger;
  drainTimeoutMs?: number;
  exit?: (code: number) => void;
}

export interface Shutdown {
  /** Registers a closer; closers run last-registered first. */
  add(name: string, closer: Closer): void;
  run(reason: string): Promise<void>;
  readonly draining: boolean;
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  const closers: { name: string; closer: Closer }[] = [];
  let draining = false;
  let running: Promise<void> | undefined;

  const run = async (reason: string): Promise<void> => {
    running ??= (async () => {
      draining = true;
      options.log.info({ reason }, 'draining');
      for (const { name, closer } of [...closers].reverse()) {
        try {
          await closer();
        } catch (error) {
          options.log.error({ err: error, closer: name }, 'closing failed');
        }
      }
      options.log.info('stopped');
    })();
    return running;
  };

  return {
    add: (name, closer) => closers.push({ name, closer }),
    run,
    get draining() {
      return draining;
    },
  };
}

/** Wires SIGTERM and SIGINT to a shutdown and exits when it is done. */
export function exitOnSignals(shutdown: Shutdown, options: ShutdownOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      options.log.warn({ signal }, 'second signal: exiting without draining');
      exit(1);
      return;
    }
    const timer = setTimeout(() => {
      options.log.error({ drainTimeoutMs }, 'drain took too long: exiting');
      exit(1);
    }, drainTimeoutMs);
    timer.unref();
    void shutdown.run(signal).then(() => exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
