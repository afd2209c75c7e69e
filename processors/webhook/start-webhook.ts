// Wiring of the webhook process: configuration in, connections opened, HTTP served, and a
// shutdown that stops taking requests, lets the intake commit what it took, publishes the outbox,
// and then closes the producer and the pool.
import { randomUUID } from 'node:crypto';
import type { Config } from '../../core/config.ts';
import { requireIpnSecret } from '../../core/config.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { listen, type ListeningServer } from '../../core/http/listen.ts';
import { createOperationsApp } from '../../core/http/operations-routes.ts';
import { createShutdown, type Shutdown } from '../../core/shutdown.ts';
import { openProcessResources } from '../../core/processing/process-resources.ts';
import { createOutboxRelay } from '../../core/processing/outbox-relay.ts';
import type { MetricsSource, ReadinessProbe } from '../../core/http/operations-routes.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { Decimal } from '../../core/money.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { createPaymentIntake } from './payment-intake.ts';
import { createWebhookApp } from './webhook-app.ts';
import type { IpnLimits } from './ipn-notification.ts';
import { countHeldIpns, quarantineIpn } from './ipn-quarantine.ts';

/** The IPN rules from the configuration; the admin API's quarantine reinjection applies the same. */
export function ipnLimitsOf(config: Config): IpnLimits {
  return {
    usdAmountMax: new Decimal(config.PAYMENT_USD_MAX),
    timestampEarliest: new Date(config.IPN_TIMESTAMP_EARLIEST),
    timestampFutureToleranceMs: config.IPN_TIMESTAMP_FUTURE_TOLERANCE,
  };
}

/**
 * What the webhook needs to accept a payment: PostgreSQL only. Kafka and the registry are the
 * relay's concern; a webhook that turned unready with them would send NOWPayments away while it
 * could still have accepted every payment durably.
 */
function readinessOf(probes: Readonly<Record<string, ReadinessProbe>>): Record<string, ReadinessProbe> {
  const { database } = probes;
  return database === undefined ? {} : { database };
}

export interface RunningWebhook {
  readonly url: string;
  readonly shutdown: Shutdown;
  stop(): Promise<void>;
}

export interface StartWebhookOptions {
  config: Config;
  endpoints: StackEndpoints;
  log?: Logger;
  /** 0 picks a free port (tests). */
  port?: number;
  now?: () => Date;
  /** Set when this process is one of WEBHOOK_WORKERS sharing the port (webhook-cluster.ts). */
  worker?: WebhookWorkerOptions;
}

export interface WebhookWorkerOptions {
  /** Workers sharing the port: each enforces its share of the per-source rate limit. */
  count: number;
  /** What /metrics on the public port serves: the sum over all workers. */
  metricsSource: MetricsSource;
  /** Hands this worker's registry to the primary's collection. */
  shareRegistry(registry: MetricsRegistry): void;
}

export async function startWebhook(options: StartWebhookOptions): Promise<RunningWebhook> {
  const { config, endpoints } = options;
  const log = options.log ?? createLogger({ name: 'webhook', level: config.LOG_LEVEL });
  const shutdown = createShutdown({ log });
  const { pool, producer, serde, metrics, probes } = await openProcessResources({
    name: 'webhook',
    config,
    endpoints,
    log,
    shutdown,
    // The webhook keeps no session state (no SET, no session locks, no LISTEN), so a released
    // connection needs no DISCARD ALL: that reset cost a round trip per request.
    pool: { resetSessionOnRelease: false },
  });

  // The accepted payments' records are published by this relay from the outbox, woken after every
  // commit that wrote some, so they reach Kafka within milliseconds while Kafka is up, and wait in
  // PostgreSQL (accepted, durable) while it is not.
  const relay = createOutboxRelay({ pool, producer, serde, log, metrics });
  relay.start();
  shutdown.add('outbox relay', async () => {
    await relay.stop();
    await relay.drain();
  });

  const { worker } = options;
  worker?.shareRegistry(metrics);
  const now = options.now ?? (() => new Date());
  const intake = createPaymentIntake({ pool, log, now, onRecordsWritten: () => relay.wake() });
  shutdown.add('payment intake', () => intake.idle());

  const app = createWebhookApp({
    ipnSecret: requireIpnSecret(config),
    bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES,
    limits: ipnLimitsOf(config),
    intake,
    quarantine: { hold: (entry) => quarantineIpn(pool, entry), countHeld: () => countHeldIpns(pool) },
    now,
    metrics,
    probes: readinessOf(probes),
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    log,
    newCorrelationId: randomUUID,
    isAcceptingWork: () => !shutdown.draining,
    // Connections are dealt to the workers in turn, so each sees about its share of a source's.
    rateLimitPerMinute: Math.ceil(config.WEBHOOK_RATE_LIMIT_PER_MINUTE / (worker?.count ?? 1)),
    serveMetrics: config.WEBHOOK_METRICS_PORT === undefined,
    ...(worker === undefined ? {} : { metricsSource: worker.metricsSource }),
  });
  let operations: ListeningServer | undefined;
  // A worker leaves WEBHOOK_METRICS_PORT to the primary, which serves the sum over all workers.
  if (config.WEBHOOK_METRICS_PORT !== undefined && worker === undefined) {
    const operationsApp = createOperationsApp({ metrics, probes: readinessOf(probes), isAcceptingWork: () => !shutdown.draining, retryAfterSeconds: config.RETRY_AFTER_SECONDS });
    operations = await listen(operationsApp, config.WEBHOOK_METRICS_PORT, config.METRICS_HOST ?? config.LISTEN_HOST);
    shutdown.add('operations http server', () => operations!.close());
  }
  const server = await listen(app, options.port ?? config.WEBHOOK_PORT, config.WEBHOOK_HOST ?? config.LISTEN_HOST);
  // Registered last so it runs first: no new requests while the producer and pool close.
  shutdown.add('http server', () => server.close());
  const { url } = server;
  log.info({ url, ...(operations === undefined ? {} : { metricsUrl: `${operations.url}/metrics` }) }, 'webhook listening');

  return { url, shutdown, stop: () => shutdown.run('stop') };
}
