// Wiring of the admin process: configuration in, connections opened, the outbox relay that
// publishes its records, the cooldown sweep that applies due destination changes, the periodic
// liveness check, HTTP served, and a shutdown that stops taking requests first and publishes what
// is left in the outbox last.
//
// The liveness check runs here, not in settlement: it looks at the whole database (conversions,
// payouts, dead letters of every processor, and later IPN quarantine and chain nonces), which is
// not settlement's business; it must keep running when settlement is the part that is stuck or
// down; and the admin process is the operator's side already (it serves the same findings on
// GET /api/reconciliation and the resolutions they call for). It is not in any money path, so a
// slow check delays nobody's payout. Several admin instances are safe: the check serialises on an
// advisory lock and alerts each transition once (liveness-alerts.ts).
import { randomUUID } from 'node:crypto';
import type { Config } from '../../core/config.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { listen } from '../../core/http/listen.ts';
import { createShutdown, type Shutdown } from '../../core/shutdown.ts';
import { openProcessResources } from '../../core/processing/process-resources.ts';
import { createOutboxRelay, type OutboxRelay } from '../../core/processing/outbox-relay.ts';
import { startPunctuation } from '../../core/processing/punctuation.ts';
import { Decimal } from '../../core/money.ts';
import { PipelineError } from '../../core/errors.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { createAdminApp } from './admin-app.ts';
import { adminTokenDigestsOf } from './admin-tokens.ts';
import { createClientService, type ClientService } from './client-service.ts';
import { microBatchThresholdLimitsOf } from './micro-batch-threshold.ts';
import { createQuarantineServiceOf } from './quarantine-service.ts';
import { checkLiveness, createFindingsGauge, livenessRulesOf } from './liveness-alerts.ts';
import { createConsumerLagMonitor } from './consumer-lag.ts';
import { createSharedKafkaAdmin } from './shared-kafka-admin.ts';
import { createHostWalletReader } from './host-wallet-balance.ts';
import { createOverviewReader } from './overview-reader.ts';
import { createLiveEvents } from './live-events.ts';
import { createReplayJobs } from './replay-jobs.ts';
import { windowRulesOf } from '../accumulator/start-accumulator.ts';

export interface RunningAdmin {
  readonly url: string;
  readonly shutdown: Shutdown;
  readonly relay: OutboxRelay;
  readonly clients: ClientService;
  stop(): Promise<void>;
}

export interface StartAdminOptions {
  config: Config;
  endpoints: StackEndpoints;
  log?: Logger;
  /** 0 picks a free port (tests). */
  port?: number;
  now?: () => Date;
  /** How often due destination changes are applied; 0 turns the sweep off (tests call it). */
  cooldownSweepIntervalMs?: number;
  /** How often the liveness check runs; default LIVENESS_CHECK_INTERVAL, 0 turns it off. */
  livenessCheckIntervalMs?: number;
  /** How often the overview is re-read for GET /api/events; default CONSOLE_EVENTS_INTERVAL. */
  consoleEventsIntervalMs?: number;
  /** How often every group's consumer lag is read; default CONSUMER_LAG_INTERVAL, 0 turns it off. */
  consumerLagIntervalMs?: number;
  bodyLimitBytes?: number;
}

const defaultCooldownSweepIntervalMs = 5_000;
const defaultBodyLimitBytes = 16_384;

export async function startAdmin(options: StartAdminOptions): Promise<RunningAdmin> {
  const { config, endpoints } = options;
  const log = options.log ?? createLogger({ name: 'admin', level: config.LOG_LEVEL });
  // Checked before anything opens: an admin API without a token must not start at all. Only the
  // digests are kept from here on.
  const adminTokens = adminTokenDigestsOf({ plainToken: config.ADMIN_TOKEN, namedTokens: config.ADMIN_TOKENS, viewerToken: config.ADMIN_VIEWER_TOKEN });
  const thresholdBounds = { min: new Decimal(config.CLIENT_THRESHOLD_MIN_USD), max: new Decimal(config.CLIENT_THRESHOLD_MAX_USD) };
  if (thresholdBounds.min.gt(thresholdBounds.max)) {
    throw new PipelineError('CLIENT_THRESHOLD_MIN_USD is above CLIENT_THRESHOLD_MAX_USD: no threshold could be registered.');
  }
  const now = options.now ?? (() => new Date());
  const shutdown = createShutdown({ log });
  const { pool, kafka, producer, serde, metrics, probes } = await openProcessResources({
    name: 'admin',
    config,
    endpoints,
    log,
    shutdown,
    // Like the webhook, the admin process keeps no session state: its locks are transaction-scoped,
    // the read model's isolation is SET TRANSACTION, and it LISTENs on nothing. A released
    // connection therefore needs no DISCARD ALL, a round trip on every request (the balance API's
    // p99 is what it costs most).
    pool: { resetSessionOnRelease: false },
  });

  // The one Kafka admin connection of the process (lag metric, overview, console operations);
  // registered here so it closes after everything that uses it.
  const kafkaAdmin = createSharedKafkaAdmin(kafka);
  shutdown.add('kafka admin client', () => kafkaAdmin.close());

  const relay = createOutboxRelay({ pool, producer, serde, log, metrics });
  relay.start();
  shutdown.add('outbox relay', async () => {
    await relay.stop();
    await relay.drain();
  });

  const clients = createClientService({ pool, now, cooldownMs: config.WALLET_CHANGE_COOLDOWN });
  const sweepIntervalMs = options.cooldownSweepIntervalMs ?? defaultCooldownSweepIntervalMs;
  if (sweepIntervalMs > 0) {
    const sweep = startPunctuation({
      intervalMs: sweepIntervalMs,
      log,
      run: async () => {
        const applied = await clients.applyDuePending(randomUUID());
        if (applied > 0) log.info({ applied }, 'pending payout destinations applied after their cooldown');
      },
    });
    shutdown.add('cooldown sweep', () => sweep.stop());
  }

  const livenessRules = livenessRulesOf(config);
  const livenessIntervalMs = options.livenessCheckIntervalMs ?? config.LIVENESS_CHECK_INTERVAL;
  if (livenessIntervalMs > 0) {
    const observeFindings = createFindingsGauge(metrics);
    const check = startPunctuation({
      intervalMs: livenessIntervalMs,
      log,
      run: async () => {
        const result = await checkLiveness({ pool, rules: livenessRules, now: now(), repeatIntervalMs: config.ALERT_REPEAT_INTERVAL, log });
        // The alerts are in the outbox; the running relay publishes them within its idle delay.
        observeFindings(result.findings);
      },
    });
    shutdown.add('liveness check', () => check.stop());
  }

  // One place computes the lag of every consumer group of the cluster (consumer-lag.ts).
  const consumerLagIntervalMs = options.consumerLagIntervalMs ?? config.CONSUMER_LAG_INTERVAL;
  if (consumerLagIntervalMs > 0) {
    const lagMonitor = createConsumerLagMonitor({ kafkaAdmin, metrics, log });
    const lagTimer = startPunctuation({
      intervalMs: consumerLagIntervalMs,
      log,
      run: async () => {
        await lagMonitor.refresh();
      },
    });
    shutdown.add('consumer lag', () => lagTimer.stop());
  }

  // The console's live data: one overview poller for every event stream, replays in the background.
  const readOverview = createOverviewReader({
    pool,
    rules: windowRulesOf(config),
    kafkaAdmin,
    hostWallet: createHostWalletReader({ pool, config, evmRpcUrl: endpoints.evmRpcUrl, usdtContractAddress: endpoints.usdtContractAddress }),
    now,
    log,
  });
  const events = createLiveEvents({ readOverview, intervalMs: options.consoleEventsIntervalMs ?? config.CONSOLE_EVENTS_INTERVAL, maxStreams: config.CONSOLE_EVENT_STREAMS_MAX, log });
  const replays = createReplayJobs({ kafka, kafkaAdmin, producer, pool, log, newId: randomUUID, now, onChange: (view) => events.broadcast('replay', view) });
  // Runs after the HTTP server has closed (registered before it): a replay in flight finishes.
  shutdown.add('dead-letter replays', () => replays.close());
  // Audit rows are written after their answer (admin-app.ts): shutdown waits for those in flight
  // after the server has stopped taking requests and before the pool closes.
  const auditWrites = new Set<Promise<void>>();
  shutdown.add('console audit writes', async () => {
    await Promise.all(auditWrites);
  });

  const app = createAdminApp({
    adminTokens,
    rateLimitPerMinute: config.ADMIN_RATE_LIMIT_PER_MINUTE,
    sessionTtlMs: config.CONSOLE_SESSION_TTL,
    secureCookie: config.CONSOLE_COOKIE_SECURE,
    loginRateLimitPerMinute: config.CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE,
    trackAuditWrite: (write) => {
      auditWrites.add(write);
      void write.finally(() => auditWrites.delete(write));
    },
    pool,
    clients,
    thresholdBounds,
    microBatchLimits: microBatchThresholdLimitsOf(config),
    bodyLimitBytes: options.bodyLimitBytes ?? defaultBodyLimitBytes,
    metrics,
    probes,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    log,
    now,
    newCorrelationId: randomUUID,
    isAcceptingWork: () => !shutdown.draining,
    payoutMaxAgeMs: config.PAYOUT_MAX_AGE,
    quarantine: createQuarantineServiceOf({ config, pool, log, now }),
    livenessRules,
    kafkaAdmin,
    console: { explorerTxUrl: config.CONSOLE_EXPLORER_TX_URL ?? null },
    live: { readOverview, events, kafka: { client: kafka, admin: kafkaAdmin, serde, replays } },
  });
  const server = await listen(app, options.port ?? config.ADMIN_PORT, config.ADMIN_HOST ?? config.LISTEN_HOST);
  // Registered (nearly) last so it runs (nearly) first: no new requests while the relay drains and the pool closes.
  shutdown.add('http server', () => server.close());
  // Registered after the server so it runs before it: open event streams never end by themselves,
  // and server.close() waits for every open connection.
  shutdown.add('event streams', () => events.close());
  const { url } = server;
  log.info({ url }, 'admin API listening');

  return { url, shutdown, relay, clients, stop: () => shutdown.run('stop') };
}
