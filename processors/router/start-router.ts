// Wiring of the router process: its own consumer group `router` on payments-received and
// client-payout-configs, on the shared runtime (batch consumer with inbox and outbox, relay,
// /health /ready /metrics, drain on SIGTERM). What it does with a chunk is in router-handler.ts.
import { clockOf } from '../../core/clock.ts';
import { createLogger } from '../../core/logger.ts';
import { startConsumerProcess, type RunningConsumerProcess, type ConsumerProcessStartOptions } from '../../core/processing/consumer-process.ts';
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
    log,
    clock: clockOf(options.now),
    ...(options.exit === undefined ? {} : { exit: options.exit }),
  });
}
