// The processors `run` can start and the port each listens on: names only, no processor code, so
// tools such as the Kubernetes manifests' test (deploy/k8s) can check against them cheaply.
import type { Config } from '../core/config.ts';

export const processorNames = ['webhook', 'admin', 'router', 'accumulator', 'changenow', 'chain', 'settlement', 'notifier'] as const;
export type ProcessorName = (typeof processorNames)[number];

export function isProcessorName(name: string): name is ProcessorName {
  return (processorNames as readonly string[]).includes(name);
}

/** The operator console, served by the admin process. */
export function consoleUrl(config: Config): string {
  return `http://localhost:${config.ADMIN_PORT}/console/`;
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
    notifier: `http://localhost:${config.NOTIFIER_PORT}/metrics`,
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
    case 'notifier':
      return config.NOTIFIER_PORT;
  }
}
