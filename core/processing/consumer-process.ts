// A consuming processor as a process: its resources, the batch consumer running the processor
// (processor.ts), the outbox relay, an optional punctuation on the injected clock, and the
// operations HTTP server (/health, /ready, /metrics).
// Shutdown order on SIGTERM: stop answering ready → stop punctuation → stop consuming (finish the
// batch, commit, leave the group) → let the window evaluation it requested finish → publish what is
// left in the outbox → close producer and pool.
// A broken invariant (`fatal`) fails /ready with its reason at once, drains the same way and then
// exits with 70 (EX_SOFTWARE): the supervisor restarts it loudly instead of it limping on.
import express from 'express';
import type { Config } from '../config.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { InvariantViolation } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import { createShutdown, type Shutdown } from '../shutdown.ts';
import { listen } from '../http/listen.ts';
import { mountOperationsRoutes } from '../http/operations-routes.ts';
import { mountErrorHandlers } from '../http/http-errors.ts';
import type { StackEndpoints } from '../endpoints.ts';
import { openProcessResources, type ProcessResources } from './process-resources.ts';
import type { DatabasePoolOptions } from '../../db/pool.ts';
import { createOutboxRelay, type OutboxRelay } from './outbox-relay.ts';
import type { ValueSchemaName } from '../../topics/topics.ts';
import { startBatchConsumer } from './batch-consumer.ts';
import type { Processor } from './processor.ts';
import { startPunctuation, type Punctuation } from './punctuation.ts';
import { createCoalescingRunner, type CoalescingRunner } from './coalescing-runner.ts';
import { createRetention } from './retention.ts';
import { evaluateOnNotification } from '../../db/notification-listener.ts';

export interface ConsumerProcessOptions<S extends ValueSchemaName, Store, Result> {
  name: string;
  config: Config;
  endpoints: StackEndpoints;
  port: number;
  /** Built once the resources are open, so the processor can register its metrics. */
  createProcessor: (resources: ProcessResources) => Processor<S, Store, Result>;
  /**
   * A window's coalesced evaluation (window-runner.ts), built once the resources are open: requested
   * after every committed chunk and on the punctuation timer when one is given. `fatal` stops the
   * process for a broken invariant.
   */
  window?: (resources: ProcessResources, fatal: (error: InvariantViolation) => void) => ProcessWindow;
  /**
   * A background worker that carries out side effects outside the consumer (the connectors' API
   * calls and transactions). Requested after every committed chunk and on the punctuation timer,
   * coalesced (one run at a time, one queued), never awaited by the consumer — a run may wait on
   * an external service and the consumer must keep heartbeating — and stopped first on SIGTERM,
   * letting the run in flight finish its step. The run must not reject.
   */
  worker?: (resources: ProcessResources) => () => Promise<void>;
  punctuationIntervalMs?: number;
  /** Partitions whose chunks are applied at once (batch-consumer.ts); default 1. */
  partitionsConcurrently?: number;
  /** Records per transaction (batch-consumer.ts); default 500. */
  chunkSizeMax?: number;
  /** The process's database pool, e.g. a larger one for a worker that holds connections across calls. */
  pool?: DatabasePoolOptions;
  log?: Logger;
  /** The clock of every timestamp the runtime writes and of its timers; default the system clock. */
  clock?: Clock;
  /** How the process ends after a broken invariant, once drained; default `process.exit`. Tests observe it. */
  exit?: (code: number) => void;
}

/** A window's evaluation and the NOTIFY channels that request it (the event-driven trigger). */
export interface ProcessWindow {
  readonly runner: CoalescingRunner;
  readonly notifications: readonly NotificationTrigger[];
}

export interface NotificationTrigger {
  readonly channel: string;
  /** Set to 1 while listening, 0 otherwise (a gauge of the processor's metrics). */
  readonly connected: { set(value: number): void };
  /** Told each notification's payload before the evaluation it requests (the accumulator's running summary). */
  readonly onNotification?: (payload: string | undefined) => void;
  /** Told on every (re)connect of the listener, before the evaluation it requests: notifications may have been lost. */
  readonly onConnected?: () => void;
}

/** The exit code of a process stopped by a broken invariant (EX_SOFTWARE). */
export const fatalExitCode = 70;

/** What a consumer processor's start function takes (router, connectors, notifier): the same knobs for each. */
export interface ConsumerProcessStartOptions {
  config: Config;
  endpoints: StackEndpoints;
  log?: Logger;
  /** 0 picks a free port (tests); default the processor's own port setting. */
  port?: number;
  now?: () => Date;
  /** How the process ends after a broken invariant; default `process.exit`. */
  exit?: (code: number) => void;
}

export interface RunningConsumerProcess {
  readonly url: string;
  readonly shutdown: Shutdown;
  readonly resources: ProcessResources;
  readonly relay: OutboxRelay;
  readonly clock: Clock;
  /** The window's evaluation when the process has one (`window`). */
  readonly window: CoalescingRunner | undefined;
  /** Stops the process for a broken invariant: /ready fails with it, then drain, then exit 70. */
  fatal(error: InvariantViolation): void;
  stop(): Promise<void>;
}

export async function startConsumerProcess<S extends ValueSchemaName, Store, Result>(options: ConsumerProcessOptions<S, Store, Result>): Promise<RunningConsumerProcess> {
  const { name, config, endpoints } = options;
  const log = options.log ?? createLogger({ name, level: config.LOG_LEVEL });
  const clock = options.clock ?? systemClock;
  const now = (): Date => clock.now();
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const shutdown = createShutdown({ log });
  const resources = await openProcessResources({ name, config, endpoints, log, shutdown, ...(options.pool === undefined ? {} : { pool: options.pool }) });

  let fatalError: InvariantViolation | undefined;
  const fatal = (error: InvariantViolation): void => {
    if (fatalError !== undefined) return;
    fatalError = error;
    log.fatal({ err: error, alert: true }, `${name} broke an invariant; stopping (exit ${fatalExitCode})`);
    void shutdown.run('fatal').then(() => exit(fatalExitCode));
  };
  resources.probes['invariants'] = () => (fatalError === undefined ? Promise.resolve() : Promise.reject(new Error(`broken invariant: ${fatalError.message}`)));

  const relay = createOutboxRelay({ pool: resources.pool, producer: resources.producer, serde: resources.serde, log, metrics: resources.metrics });
  relay.start();
  shutdown.add('outbox relay', async () => {
    await relay.stop();
    await relay.drain();
  });

  const processWindow = options.window?.(resources, fatal);
  const window = processWindow?.runner;
  // The punctuation awaits the evaluation it requests (one timer run at a time); the consumer never
  // does (onChunkCommitted), because a settlement evaluation that waits on quotes can outlast the
  // session timeout, and a batch that does not heartbeat for that long is dropped from its group.
  let evaluate = window === undefined ? undefined : () => window.request();
  let stopWorker: (() => Promise<void>) | undefined;
  if (options.worker !== undefined) {
    const runner = createCoalescingRunner(options.worker(resources));
    const previous = evaluate;
    let stopping = false;
    evaluate = async () => {
      if (!stopping) void runner.request();
      await previous?.();
    };
    stopWorker = async () => {
      stopping = true;
      await runner.idle();
    };
  }
  const requestEvaluation = evaluate;
  // Registered before the consumer, so it runs after the consumer has stopped: the evaluation its
  // last chunk requested finishes (and writes its outbox rows) before the relay drains and the pool closes.
  if (window !== undefined) shutdown.add('window evaluation', () => window.idle());
  const consumer = await startBatchConsumer({
    name,
    kafka: resources.kafka,
    pool: resources.pool,
    serde: resources.serde,
    processor: options.createProcessor(resources),
    log,
    metrics: resources.metrics,
    now,
    onFatal: fatal,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT,
    rebalanceTimeoutMs: config.KAFKA_REBALANCE_TIMEOUT,
    fetchMaxWaitMs: config.KAFKA_FETCH_MAX_WAIT,
    ...(options.partitionsConcurrently === undefined ? {} : { partitionsConcurrently: options.partitionsConcurrently }),
    ...(options.chunkSizeMax === undefined ? {} : { chunkSizeMax: options.chunkSizeMax }),
    ...(requestEvaluation === undefined ? {} : { onChunkCommitted: () => void requestEvaluation() }),
  });
  shutdown.add('kafka consumer', () => consumer.stop());

  // This process owns its consumer group's inbox rows: it prunes them, and published outbox rows,
  // on a timer. Created before the HTTP server, so a bad INBOX_RETENTION stops the start.
  const retention = createRetention({
    pool: resources.pool,
    log,
    metrics: resources.metrics,
    consumer: name,
    inboxRetentionMs: config.INBOX_RETENTION,
    outboxRetentionMs: config.OUTBOX_RETENTION,
    now,
  });
  const retentionTimer = startPunctuation({
    intervalMs: config.RETENTION_INTERVAL,
    run: async () => {
      await retention.pruneOnce();
    },
    log,
    clock,
  });
  shutdown.add('retention', () => retentionTimer.stop());

  let punctuation: Punctuation | undefined;
  if (evaluate !== undefined && options.punctuationIntervalMs !== undefined) {
    punctuation = startPunctuation({ intervalMs: options.punctuationIntervalMs, run: evaluate, log, clock });
    shutdown.add('punctuation', () => punctuation!.stop());
  }

  const app = express();
  app.disable('x-powered-by');
  mountOperationsRoutes(app, {
    metrics: resources.metrics,
    probes: { ...resources.probes, consumer: () => consumer.probe() },
    isAcceptingWork: () => !shutdown.draining,
  });
  // The same JSON answers as the webhook and the admin API for any other path or a malformed one.
  mountErrorHandlers(app, { retryAfterSeconds: config.RETRY_AFTER_SECONDS });
  const server = await listen(app, options.port, config.LISTEN_HOST);
  shutdown.add('http server', () => server.close());
  // Registered last, so it runs first: no new run, and the one in flight ends its step before the
  // consumer, the relay (which then publishes what the run wrote) and the pool close.
  if (stopWorker !== undefined) shutdown.add('worker', stopWorker);
  // Registered after everything else, so they close first: no new notifications, then the
  // evaluation in progress finishes before the punctuation, the consumer and the pool are closed.
  if (processWindow !== undefined) {
    const { runner } = processWindow;
    for (const trigger of processWindow.notifications) {
      evaluateOnNotification({
        databaseUrl: endpoints.databaseUrl,
        channel: trigger.channel,
        applicationName: name,
        log,
        request: () => runner.request(),
        idle: () => runner.idle(),
        connected: trigger.connected,
        ...(trigger.onNotification === undefined ? {} : { onNotification: trigger.onNotification }),
        ...(trigger.onConnected === undefined ? {} : { onConnected: trigger.onConnected }),
        shutdown,
      });
    }
  }
  const { url } = server;
  log.info({ url, consumerGroup: name }, `${name} running`);
  return { url, shutdown, resources, relay, clock, window, fatal, stop: () => shutdown.run('stop') };
}
