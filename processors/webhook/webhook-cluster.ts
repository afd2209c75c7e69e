// The webhook as several worker processes sharing one port (Node cluster, WEBHOOK_WORKERS): one
// process saturates a core on HTTP, parsing, signature and validation long before PostgreSQL is
// the limit, so the workers use every core given to the webhook.
//
// The primary takes no requests and opens no connections: it forks the workers, deals incoming
// connections to them in turn (the cluster's round robin), re-forks a worker that dies while the
// webhook runs, and on SIGTERM tells every worker to drain and waits for them. Each worker is a
// whole webhook (startWebhook): its own pool, intake and outbox relay.
//
// Exactly once does not change with the number of workers: the payment id's primary key in
// webhook_payments decides acceptance whichever worker's transaction commits first, the record is
// in the outbox of that same transaction, and the relays of all workers publish through one
// transaction-scoped advisory lock (core/processing/outbox-relay.ts), so two relays never publish
// the same outbox rows. A worker answers 2xx only after its commit, so killing the primary or a
// worker at any moment loses nothing NOWPayments will not retry.
//
// Operations: /health and /ready on the public port are answered by whichever worker takes the
// connection, about itself (its own pool). /metrics is the sum over all workers: a worker asks the
// primary, which collects every worker's registry (prom-client's AggregatorRegistry). With
// WEBHOOK_METRICS_PORT the primary serves /health, /ready (every worker listening) and the summed
// /metrics there itself.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../../core/config.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { createShutdown } from '../../core/shutdown.ts';
import { listen, type ListeningServer } from '../../core/http/listen.ts';
import { createOperationsApp, type MetricsSource } from '../../core/http/operations-routes.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { startWebhook, type RunningWebhook } from './start-webhook.ts';

interface MetricsRequest {
  readonly kind: 'webhook-metrics-request';
  readonly id: number;
}
interface MetricsAnswer {
  readonly kind: 'webhook-metrics-answer';
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}
interface DrainRequest {
  readonly kind: 'webhook-drain';
}

function isMessage<K extends string>(message: unknown, kind: K): message is { kind: K } {
  return typeof message === 'object' && message !== null && Reflect.get(message, 'kind') === kind;
}

function callableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export interface StartWebhookClusterOptions {
  config: Config;
  endpoints: StackEndpoints;
  log?: Logger;
}

/** In the primary: forks the workers and returns once all listen. In a worker: runs one webhook. */
export async function startWebhookCluster(options: StartWebhookClusterOptions): Promise<RunningWebhook> {
  return cluster.isPrimary ? startPrimary(options) : startWorker(options);
}

async function startWorker(options: StartWebhookClusterOptions): Promise<RunningWebhook> {
  const { config } = options;
  const log = options.log ?? createLogger({ name: 'webhook', level: config.LOG_LEVEL });
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage(message, 'webhook-metrics-answer')) return;
    const answer = message as MetricsAnswer;
    const waiting = pending.get(answer.id);
    pending.delete(answer.id);
    if (answer.text !== undefined) waiting?.resolve(answer.text);
    else waiting?.reject(new Error(answer.error ?? 'no metrics from the primary'));
  });
  const clusterMetrics: MetricsSource = {
    contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
    metrics: () =>
      new Promise<string>((resolve, reject) => {
        nextId += 1;
        pending.set(nextId, { resolve, reject });
        const request: MetricsRequest = { kind: 'webhook-metrics-request', id: nextId };
        process.send?.(request);
      }),
  };

  const running = await startWebhook({
    config,
    endpoints: options.endpoints,
    log,
    worker: {
      count: config.WEBHOOK_WORKERS,
      // The primary serves WEBHOOK_METRICS_PORT; on the public port a worker answers for all.
      metricsSource: clusterMetrics,
      // The primary collects this worker's registry whenever anyone asks for /metrics.
      shareRegistry: (registry) => {
        new AggregatorRegistry();
        AggregatorRegistry.setRegistries(registry);
      },
    },
  });
  const drainAndExit = (reason: string): void => {
    void running.shutdown.run(reason).then(() => process.exit(0));
  };
  process.on('message', (message: unknown) => {
    if (isMessage(message, 'webhook-drain')) drainAndExit('primary draining');
  });
  // The primary is gone (killed): its port no longer deals connections here, so finish what was
  // taken and exit instead of lingering as an orphan holding connections.
  process.on('disconnect', () => drainAndExit('primary gone'));
  return running;
}

async function startPrimary(options: StartWebhookClusterOptions): Promise<RunningWebhook> {
  const { config } = options;
  const log = options.log ?? createLogger({ name: 'webhook', level: config.LOG_LEVEL });
  const shutdown = createShutdown({ log });
  const count = config.WEBHOOK_WORKERS;
  const aggregator = new AggregatorRegistry();
  const listening = new Set<Worker>();
  let started = false;

  const answerMetrics = (worker: Worker, message: unknown): void => {
    if (!isMessage(message, 'webhook-metrics-request')) return;
    const { id } = message as MetricsRequest;
    // A worker that exited meanwhile has no channel left to answer on.
    const answer = (message: MetricsAnswer): void => {
      if (worker.isConnected()) worker.send(message);
    };
    aggregator.clusterMetrics().then(
      (text) => answer({ kind: 'webhook-metrics-answer', id, text }),
      (error: unknown) => answer({ kind: 'webhook-metrics-answer', id, error: error instanceof Error ? error.message : String(error) }),
    );
  };

  let firstAddress: { address: string; port: number } | undefined;
  let failStart: ((error: Error) => void) | undefined;
  let allListening: (() => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    allListening = resolve;
    failStart = reject;
  });

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => answerMetrics(worker, message));
    worker.on('listening', (address) => {
      firstAddress ??= { address: address.address ?? config.WEBHOOK_HOST ?? config.LISTEN_HOST, port: address.port };
      listening.add(worker);
      if (listening.size === count) allListening?.();
    });
    worker.on('exit', (code, signal) => {
      listening.delete(worker);
      if (shutdown.draining) return;
      if (!started) {
        failStart?.(new Error(`webhook worker ${worker.process.pid ?? '?'} exited while starting (code ${code}, signal ${signal ?? 'none'})`));
        return;
      }
      log.error({ pid: worker.process.pid, code, signal }, 'webhook worker died: starting another');
      fork();
    });
    return worker;
  };

  for (let index = 0; index < count; index += 1) fork();
  shutdown.add('webhook workers', async () => {
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) {
              resolve();
              return;
            }
            worker.once('exit', () => resolve());
            const drain: DrainRequest = { kind: 'webhook-drain' };
            if (worker.isConnected()) worker.send(drain);
            else worker.process.kill('SIGTERM');
          }),
      ),
    );
  });
  try {
    await ready;
  } catch (error) {
    await shutdown.run('a worker failed to start');
    throw error;
  }
  started = true;

  let operations: ListeningServer | undefined;
  if (config.WEBHOOK_METRICS_PORT !== undefined) {
    const metrics: MetricsSource = { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
    const operationsApp = createOperationsApp({
      metrics,
      probes: {
        workers: () =>
          listening.size < count ? Promise.reject(new Error(`${listening.size} of ${count} workers listening`)) : Promise.resolve(),
      },
      isAcceptingWork: () => !shutdown.draining,
      retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    });
    operations = await listen(operationsApp, config.WEBHOOK_METRICS_PORT, config.METRICS_HOST ?? config.LISTEN_HOST);
    shutdown.add('operations http server', () => operations!.close());
  }
  const address = firstAddress ?? { address: config.WEBHOOK_HOST ?? config.LISTEN_HOST, port: config.WEBHOOK_PORT };
  const url = `http://${callableHost(address.address)}:${address.port}`;
  log.info({ url, workers: count, ...(operations === undefined ? {} : { metricsUrl: `${operations.url}/metrics` }) }, 'webhook listening');
  return { url, shutdown, stop: () => shutdown.run('stop') };
}
