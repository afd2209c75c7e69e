// The processors `run` can start, each its own process (and its own consumer group, where it
// consumes), deployable as pods and scaled by partitions.
import type { Config } from '../core/config.ts';
import type { Shutdown } from '../core/shutdown.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { startWebhook } from '../processors/webhook/start-webhook.ts';
import { startRouter } from '../processors/router/start-router.ts';
import { startAccumulator } from '../processors/accumulator/start-accumulator.ts';
import { startAdmin } from '../processors/admin/start-admin.ts';
import { startSettlement } from '../processors/settlement/start-settlement.ts';
import { startChangeNowConnector } from '../connectors/changenow/start-changenow-connector.ts';
import { startChainConnector } from '../connectors/chain/start-chain-connector.ts';

export interface RunningProcess {
  readonly url: string;
  readonly shutdown: Shutdown;
  stop(): Promise<void>;
}

export const processorNames = ['webhook', 'admin', 'router', 'accumulator', 'changenow', 'chain', 'settlement'] as const;
export type ProcessorName = (typeof processorNames)[number];

export function isProcessorName(name: string): name is ProcessorName {
  return (processorNames as readonly string[]).includes(name);
}

export async function startProcessor(name: ProcessorName, config: Config, endpoints: StackEndpoints): Promise<RunningProcess> {
  switch (name) {
    case 'webhook':
      return startWebhook({ config, endpoints });
    case 'admin':
      return startAdmin({ config, endpoints });
    case 'router':
      return startRouter({ config, endpoints });
    case 'accumulator':
      return startAccumulator({ config, endpoints });
    case 'settlement':
      return startSettlement({ config, endpoints });
    case 'changenow':
      return startChangeNowConnector({ config, endpoints });
    case 'chain':
      return startChainConnector({ config, endpoints });
  }
}

/** Where each processor listens, for the start-up summary. */
export function processorUrls(config: Config): Record<ProcessorName, string> {
  return {
    webhook: `http://localhost:${config.WEBHOOK_PORT}/webhooks/nowpayments`,
    admin: `http://localhost:${config.ADMIN_PORT}/api`,
    router: `http://localhost:${config.ROUTER_PORT}/metrics`,
    accumulator: `http://localhost:${config.ACCUMULATOR_PORT}/metrics`,
    settlement: `http://localhost:${config.SETTLEMENT_PORT}/metrics`,
    changenow: `http://localhost:${config.CHANGENOW_CONNECTOR_PORT}/metrics`,
    chain: `http://localhost:${config.CHAIN_CONNECTOR_PORT}/metrics`,
  };
}

/** The port each processor serves /health and /ready on (the webhook's metrics port when it has one). */
export function processorOperationsPort(name: ProcessorName, config: Config): number {
  switch (name) {
    case 'webhook':
      return config.WEBHOOK_METRICS_PORT ?? config.WEBHOOK_PORT;
    case 'admin':
      return config.ADMIN_PORT;
    case 'router':
      return config.ROUTER_PORT;
    case 'accumulator':
      return config.ACCUMULATOR_PORT;
    case 'settlement':
      return config.SETTLEMENT_PORT;
    case 'changenow':
      return config.CHANGENOW_CONNECTOR_PORT;
    case 'chain':
      return config.CHAIN_CONNECTOR_PORT;
  }
}
