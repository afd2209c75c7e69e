// The shared wiring of a window process (the accumulator's global window, settlement's per-client
// windows): a consuming processor plus one coalesced window evaluation, requested on three triggers
// — after every committed chunk, on a NOTIFY on each of the window's channels (and on every
// reconnect of their listener), and on the punctuation timer of the injected clock (time triggers,
// and the safety net for a missed notification). A broken invariant in an evaluation stops the
// process (consumer-process.ts: `fatal`).
import type { Histogram } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { StackEndpoints } from '../endpoints.ts';
import type { Logger } from '../logger.ts';
import type { ValueSchemaName } from '../../topics/topics.ts';
import { startConsumerProcess, type NotificationTrigger, type RunningConsumerProcess } from './consumer-process.ts';
import type { ProcessResources } from './process-resources.ts';
import type { Processor } from './processor.ts';
import { createWindowRunner, type RunningWindowProcess } from './window-runner.ts';
import { InvariantViolation } from '../errors.ts';

/** A window as its processor defines it, built once the process's resources are open. */
export interface WindowDefinition<E> {
  /** One evaluation in its own transaction(s); resolves with what it did. */
  evaluate: () => Promise<E>;
  /** Metrics and logs of a committed evaluation. */
  onEvaluated: (evaluation: E) => void;
  onFailed: () => void;
  evaluationSeconds: Histogram;
  /** The channels whose NOTIFY requests an evaluation, each with its listener's gauge. */
  notifications: readonly NotificationTrigger[];
}

export interface WindowProcessOptions<S extends ValueSchemaName, Store, Result, E> {
  name: string;
  config: Config;
  endpoints: StackEndpoints;
  port: number;
  log: Logger;
  clock: Clock;
  exit?: (code: number) => void;
  punctuationIntervalMs: number;
  createProcessor: (resources: ProcessResources) => Processor<S, Store, Result>;
  createWindow: (resources: ProcessResources) => WindowDefinition<E>;
  /** Start-up hooks run once the process is running (another listener, another trigger). */
  onRunning?: readonly ((running: RunningConsumerProcess) => void)[];
}

export type { NotificationTrigger };

export async function startWindowProcess<S extends ValueSchemaName, Store, Result, E>(options: WindowProcessOptions<S, Store, Result, E>): Promise<RunningWindowProcess> {
  const { log } = options;
  const running = await startConsumerProcess({
    name: options.name,
    config: options.config,
    endpoints: options.endpoints,
    port: options.port,
    log,
    clock: options.clock,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
    createProcessor: options.createProcessor,
    punctuationIntervalMs: options.punctuationIntervalMs,
    window: (resources, fatal) => {
      const definition = options.createWindow(resources);
      const runner = createWindowRunner({
        evaluate: definition.evaluate,
        onEvaluated: definition.onEvaluated,
        evaluationSeconds: definition.evaluationSeconds,
        onFailed: definition.onFailed,
        onFatal: fatal,
        log,
      });
      return { runner, notifications: definition.notifications };
    },
  });
  const { window } = running;
  if (window === undefined) throw new InvariantViolation('a window process runs its window');
  for (const hook of options.onRunning ?? []) hook(running);
  return {
    url: running.url,
    shutdown: running.shutdown,
    evaluateNow: () => window.request(),
    stop: () => running.stop(),
  };
}
