// A consuming processor as a process: its resources, the batch consumer, the outbox relay, an
// optional wall-clock punctuation, and the operations HTTP server (/health, /ready, /metrics).
// Shutdown order on SIGTERM: stop answering ready → stop punctuation → stop consuming (finish the
// batch, commit, leave the group) → publish what is left in the outbox → close producer and pool.
import express from 'express';
import type { Config } from '../config.ts';
import { createLogger, type Logger } from '../logger.ts';
import { createShutdown, type Shutdown } from '../shutdown.ts';
import { listen } from '../http/listen.ts';
import { mountOperationsRoutes } from '../http/operations-routes.ts';
import { mountErrorHandlers } from '../http/http-errors.ts';
import type { StackEndpoints } from '../endpoints.ts';
import { openProcessResources, type ProcessResources } from './process-resources.ts';
import { createOutboxRelay, type OutboxRelay } from './outbox-relay.ts';
import { startBatchConsumer, type BatchHandler, type Subscription } from './batch-consumer.ts';
import { startPunctuation, type Punctuation } from './punctuation.ts';
import { createCoalescingRunner } from './coalescing-runner.ts';
import { createRetention } from './retention.ts';

export interface ConsumerProcessOptions {
  name: string;
  config: Config;
  endpoints: StackEndpoints;
  port: number;
  subscriptions: readonly Subscription[];
  /** Built once the resources are open, so the handler can use the pool, clock and log. */
  createHandler: (resources: ProcessResources) => BatchHandler;
  /** Runs after every committed chunk, and on the punctuation timer when one is given. */
  evaluate?: (resources: ProcessResources) => () => Promise<void>;
  /**
   * A background worker that carries out side effects outside the consumer (the connectors' API
   * calls and transactions). Requested after every committed chunk and on the punctuation timer,
   * coalesced (one run at a time, one queued), never awaited by the consumer — a run may wait on
   * an external service and the consumer must keep heartbeating — and stopped first on SIGTERM,
   * letting the run in flight finish its step. The run must not reject.
   */
  worker?: (resources: ProcessResources) => () => Promise<void>;
  punctuationIntervalMs?: number;
  log?: Logger;
  now?: () => Date;
}

export interface RunningConsumerProcess {
  readonly url: string;
  readonly shutdown: Shutdown;
  readonly resources: ProcessResources;
  readonly relay: OutboxRelay;
  stop(): Promise<void>;
}

export async function startConsumerProcess(options: ConsumerProcessOptions): Promise<RunningConsumerProcess> {
  const { name, config, endpoints } = options;
  const log = options.log ?? createLogger({ name, level: config.LOG_LEVEL });
  const now = options.now ?? (() => new Date());
  const shutdown = createShutdown({ log });
  const resources = await openProcessResources({ name, config, endpoints, log, shutdown });

  const relay = createOutboxRelay({ pool: resources.pool, producer: resources.producer, serde: resources.serde, log, metrics: resources.metrics });
  relay.start();
  shutdown.add('outbox relay', async () => {
    await relay.stop();
    await relay.drain();
  });

  let evaluate = options.evaluate?.(resources);
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
  const consumer = await startBatchConsumer({
    name,
    kafka: resources.kafka,
    pool: resources.pool,
    serde: resources.serde,
    subscriptions: options.subscriptions,
    handle: options.createHandler(resources),
    log,
    metrics: resources.metrics,
    now,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT,
    rebalanceTimeoutMs: config.KAFKA_REBALANCE_TIMEOUT,
    ...(evaluate === undefined ? {} : { afterCommit: evaluate }),
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
  });
  shutdown.add('retention', () => retentionTimer.stop());

  let punctuation: Punctuation | undefined;
  if (evaluate !== undefined && options.punctuationIntervalMs !== undefined) {
    punctuation = startPunctuation({ intervalMs: options.punctuationIntervalMs, run: evaluate, log });
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
  const { url } = server;
  log.info({ url, consumerGroup: name }, `${name} running`);
  return { url, shutdown, resources, relay, stop: () => shutdown.run('stop') };
}
