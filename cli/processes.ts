// The processors `run` can start, each its own process (and its own consumer group, where it
// consumes), deployable as pods and scaled by partitions.
import type { Config } from '../core/config.ts';
import type { ProcessorName } from './processor-names.ts';
import type { Shutdown } from '../core/shutdown.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';

// The names and ports live apart from the starters, so tooling (the deployment manifests' test)
// reads them without loading every processor.
export { isProcessorName, processorNames, processorUrls, type ProcessorName } from './processor-names.ts';

export interface RunningProcess {
  readonly url: string;
  readonly shutdown: Shutdown;
  stop(): Promise<void>;
}

/**
 * Loads only the processor it starts: a process is one processor, and loading all the others (their
 * HTTP frameworks, the EVM client, …) cost every start — every pod restart, every test process —
 * about a second of CPU for nothing.
 */
export async function startProcessor(name: ProcessorName, config: Config, endpoints: StackEndpoints): Promise<RunningProcess> {
  switch (name) {
    case 'webhook':
      return config.WEBHOOK_WORKERS > 1
        ? (await import('../processors/webhook/webhook-cluster.ts')).startWebhookCluster({ config, endpoints })
        : (await import('../processors/webhook/start-webhook.ts')).startWebhook({ config, endpoints });
    case 'admin':
      return (await import('../processors/admin/start-admin.ts')).startAdmin({ config, endpoints });
    case 'router':
      return (await import('../processors/router/start-router.ts')).startRouter({ config, endpoints });
    case 'accumulator':
      return (await import('../processors/accumulator/start-accumulator.ts')).startAccumulator({ config, endpoints });
    case 'settlement':
      return (await import('../processors/settlement/start-settlement.ts')).startSettlement({ config, endpoints });
    case 'changenow':
      return (await import('../connectors/changenow/start-changenow-connector.ts')).startChangeNowConnector({ config, endpoints });
    case 'chain':
      return (await import('../connectors/chain/start-chain-connector.ts')).startChainConnector({ config, endpoints });
    case 'notifier':
      return (await import('../processors/notifier/start-notifier.ts')).startNotifier({ config, endpoints });
  }
}
