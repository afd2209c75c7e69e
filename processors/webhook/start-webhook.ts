// Wiring of the webhook process: configuration in, connections opened, HTTP served, and a
// shutdown that stops taking requests before it closes the producer and the pool.
import { randomUUID } from 'node:crypto';
import type { Config } from '../../core/config.ts';
import { requireIpnSecret } from '../../core/config.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { listen, type ListeningServer } from '../../core/http/listen.ts';
import { createOperationsApp } from '../../core/http/operations-routes.ts';
import { createShutdown, type Shutdown } from '../../core/shutdown.ts';
import { openProcessResources } from '../../core/processing/process-resources.ts';
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
}

export async function startWebhook(options: StartWebhookOptions): Promise<RunningWebhook> {
  const { config, endpoints } = options;
  const log = options.log ?? createLogger({ name: 'webhook', level: config.LOG_LEVEL });
  const shutdown = createShutdown({ log });
  const { pool, producer, serde, metrics, probes } = await openProcessResources({ name: 'webhook', config, endpoints, log, shutdown });

  const now = options.now ?? (() => new Date());
  const intake = createPaymentIntake({
    pool,
    producer,
    serde,
    log,
    produceTimeoutMs: config.KAFKA_PRODUCE_TIMEOUT_MS,
    now,
  });

  const app = createWebhookApp({
    ipnSecret: requireIpnSecret(config),
    bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES,
    limits: ipnLimitsOf(config),
    intake,
    quarantine: { hold: (entry) => quarantineIpn(pool, entry), countHeld: () => countHeldIpns(pool) },
    now,
    metrics,
    probes,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    log,
    newCorrelationId: randomUUID,
    isAcceptingWork: () => !shutdown.draining,
    rateLimitPerMinute: config.WEBHOOK_RATE_LIMIT_PER_MINUTE,
    serveMetrics: config.WEBHOOK_METRICS_PORT === undefined,
  });
  let operations: ListeningServer | undefined;
  if (config.WEBHOOK_METRICS_PORT !== undefined) {
    const operationsApp = createOperationsApp({ metrics, probes, isAcceptingWork: () => !shutdown.draining, retryAfterSeconds: config.RETRY_AFTER_SECONDS });
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
