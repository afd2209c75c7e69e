// Wiring of the router process: its own consumer group `router` on payments-received and
// client-payout-configs, on the shared runtime (batch consumer with inbox and outbox, relay,
// /health /ready /metrics, drain on SIGTERM). What it does with a chunk is in router-handler.ts.
import { clockOf } from '../../core/clock.ts';
import { createLogger } from '../../core/logger.ts';
import { startConsumerProcess, type RunningConsumerProcess, type ConsumerProcessStartOptions } from '../../core/processing/consumer-process.ts';
import { partitionCountOf } from '../../core/kafka/partitioning.ts';
import { topicNames } from '../../topics/topics.ts';
import { parseFeePercent } from './platform-fee.ts';
import { createRouterProcessor } from './router-handler.ts';

export const routerConsumerGroup = 'router';

export type StartRouterOptions = ConsumerProcessStartOptions;

export async function startRouter(options: StartRouterOptions): Promise<RunningConsumerProcess> {
  const { config } = options;
  // Read before anything opens: a fee the ledger cannot hold stops the process at once.
  const feePercent = parseFeePercent(config.PLATFORM_FEE_PERCENT);
  const log = options.log ?? createLogger({ name: routerConsumerGroup, level: config.LOG_LEVEL });
  return startConsumerProcess({
    name: routerConsumerGroup,
    config,
    endpoints: options.endpoints,
    port: options.port ?? config.ROUTER_PORT,
    createProcessor: (resources) => createRouterProcessor({ feePercent, metrics: resources.metrics, log }),
    // Every payments-received partition at once: the router's chunk is CPU and round trips, and
    // payments of different partitions touch different ledger rows (clients are locked in sorted
    // order, so a payment racing its client's registration is serialised, never deadlocked).
    // bench/pipeline-throughput.ts: 7.3k payments/s one partition at a time, 12.4k with six.
    partitionsConcurrently: partitionCountOf(topicNames.paymentsReceived),
    // A backlog is applied 2,000 records per transaction rather than the runtime's 500: a chunk's
    // fixed cost (its statements, the commit, the offset commit) is then spread over four times
    // as many payments. bench/pipeline-throughput.ts, router alone, three interleaved pairs:
    // 11.0–13.0k payments/s with 500, 13.4–19.8k with 2,000. A live stream's chunks are far
    // smaller than either, so this changes nothing for latency.
    chunkSizeMax: 2_000,
    // The router keeps no session state (its advisory locks are transaction-scoped, it LISTENs on
    // nothing), so a released connection needs no DISCARD ALL: one round trip less per chunk.
    pool: { resetSessionOnRelease: false },
    log,
    clock: clockOf(options.now),
    ...(options.exit === undefined ? {} : { exit: options.exit }),
  });
}
