// Wiring of the router process: its own consumer group `router` on payments-received and
// client-payout-configs, on the shared runtime (batch consumer with inbox and outbox, relay,
// /health /ready /metrics, drain on SIGTERM). What it does with a chunk is in router-handler.ts.
import type { Config } from '../../core/config.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import type { Subscription } from '../../core/processing/batch-consumer.ts';
import { startConsumerProcess, type RunningConsumerProcess } from '../../core/processing/consumer-process.ts';
import type { ClientPayoutConfig, PaymentReceived } from '../../schemas/generated/records.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { topicNames } from '../../topics/topics.ts';
import { parseFeePercent } from './platform-fee.ts';
import { createRouterHandler } from './router-handler.ts';

export const routerConsumerGroup = 'router';

export interface StartRouterOptions {
  config: Config;
  endpoints: StackEndpoints;
  log?: Logger;
  /** 0 picks a free port (tests); default ROUTER_PORT. */
  port?: number;
  now?: () => Date;
}

// The runtime's Subscription is not generic over its list, so each business id is read from the
// union of record types; the topic fixes which member arrives.
const paymentsReceived: Subscription = {
  topic: topicNames.paymentsReceived,
  schemaName: 'payment-received',
  messageIdOf: (value) => (value as PaymentReceived).payment_id,
};

const clientPayoutConfigs: Subscription = {
  topic: topicNames.clientPayoutConfigs,
  schemaName: 'client-payout-config',
  // A revision is applied once; a later revision of the same client is a new message.
  messageIdOf: (value) => `${(value as ClientPayoutConfig).client_id}:${(value as ClientPayoutConfig).revision}`,
};

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
    subscriptions: [paymentsReceived, clientPayoutConfigs],
    createHandler: (resources) =>
      createRouterHandler({
        feePercent,
        metrics: resources.metrics,
        log,
      }),
    log,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}
