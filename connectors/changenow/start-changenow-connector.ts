// Wiring of the ChangeNow connector process (consumer group `changenow`): it consumes conversion
// and payout commands and the chain connector's events, and runs the swap worker (swap-worker.ts)
// after every committed chunk and on a short timer, which is when due polls happen. Any number of
// instances may run: commands are partitioned by the group, and every instance's worker steps up to
// SWAP_CONCURRENCY commands at once, each under its own advisory lock (swap-worker.ts).
import { createLogger } from '../../core/logger.ts';
import { clockOf } from '../../core/clock.ts';
import { startConsumerProcess, type RunningConsumerProcess, type ConsumerProcessStartOptions } from '../../core/processing/consumer-process.ts';
import { hostWalletAddress } from '../host-wallet.ts';
import { createChangeNowClient } from './changenow-client.ts';
import { createChangeNowProcessor } from './changenow-handler.ts';
import { createSwapMetrics, type SwapMetrics } from './swap-metrics.ts';
import { createSwapWorker } from './swap-worker.ts';
import { PipelineError } from '../../core/errors.ts';
import { defaultDatabasePoolOptions } from '../../db/pool.ts';

export const changeNowConsumerGroup = 'changenow';

export type StartChangeNowConnectorOptions = ConsumerProcessStartOptions;

/** How often the worker looks for due steps when no record arrives. */
const workerTickMs = 250;

export async function startChangeNowConnector(options: StartChangeNowConnectorOptions): Promise<RunningConsumerProcess> {
  const { config, endpoints } = options;
  if (config.CHANGENOW_API_KEY === undefined) {
    throw new PipelineError('CHANGENOW_API_KEY is required to run the ChangeNow connector.');
  }
  const apiKey = config.CHANGENOW_API_KEY;
  const hostAddress = hostWalletAddress(config);
  const log = options.log ?? createLogger({ name: changeNowConsumerGroup, level: config.LOG_LEVEL });
  const clock = clockOf(options.now);
  const now = (): Date => clock.now();
  let metrics: SwapMetrics | undefined;
  const metricsOf = (registry: Parameters<typeof createSwapMetrics>[0]): SwapMetrics => (metrics ??= createSwapMetrics(registry));

  return startConsumerProcess({
    name: changeNowConsumerGroup,
    config,
    endpoints,
    port: options.port ?? config.CHANGENOW_CONNECTOR_PORT,
    log,
    clock,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
    createProcessor: (resources) => createChangeNowProcessor({ hostWalletAddress: hostAddress, log, metrics: metricsOf(resources.metrics) }),
    punctuationIntervalMs: workerTickMs,
    // The worker holds one connection per command it steps (its lock lives on that session), on
    // top of what the consumer and the outbox relay need.
    pool: { maximumPoolSize: defaultDatabasePoolOptions.maximumPoolSize + config.SWAP_CONCURRENCY },
    worker: (resources) => {
      const client = createChangeNowClient({
        baseUrl: endpoints.changeNowApiUrl,
        apiKey,
        rateLimitPerSecond: config.CHANGENOW_RATE_LIMIT_PER_SECOND,
        db: resources.pool,
        requestTimeoutMs: config.CHANGENOW_REQUEST_TIMEOUT,
        retryBudgetMs: config.CHANGENOW_RETRY_BUDGET,
        log,
        metrics: resources.metrics,
      });
      const worker = createSwapWorker({
        pool: resources.pool,
        client,
        log,
        metrics: metricsOf(resources.metrics),
        now,
        pollIntervalMs: config.CHANGENOW_POLL_INTERVAL,
        pollIntervalMaxMs: config.CHANGENOW_POLL_INTERVAL_MAX,
        // A create call can take its timeout once per attempt, and is retried only while it certainly
        // created nothing; twice the timeout plus slack covers an answer that is still on its way.
        createSettleMs: 2 * config.CHANGENOW_REQUEST_TIMEOUT + 5_000,
        retryDelayMs: config.CHANGENOW_POLL_INTERVAL,
        createDeadlineMs: config.CHANGENOW_CREATE_DEADLINE,
        concurrency: config.SWAP_CONCURRENCY,
        batchSize: Math.max(50, 4 * config.SWAP_CONCURRENCY),
      });
      return () => worker.run();
    },
  });
}
