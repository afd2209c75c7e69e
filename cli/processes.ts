// The processors `run` can start, each its own process (and its own consumer group, where it
// consumes), deployable as pods and scaled by partitions.
import type { Config } from '../core/config.ts';
import type { ProcessorName } from './processor-names.ts';
import type { Shutdown } from '../core/shutdown.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { startWebhook } from '../processors/webhook/start-webhook.ts';
import { startWebhookCluster } from '../processors/webhook/webhook-cluster.ts';
import { startRouter } from '../processors/router/start-router.ts';
import { startAccumulator } from '../processors/accumulator/start-accumulator.ts';
import { startAdmin } from '../processors/admin/start-admin.ts';
import { startSettlement } from '../processors/settlement/start-settlement.ts';
import { startChangeNowConnector } from '../connectors/changenow/start-changenow-connector.ts';
import { startChainConnector } from '../connectors/chain/start-chain-connector.ts';
import { startNotifier } from '../processors/notifier/start-notifier.ts';

// The names and ports live apart from the starters, so tooling (the deployment manifests' test)
// reads them without loading every processor.
export { isProcessorName, processorNames, processorUrls, type ProcessorName } from './processor-names.ts';

export interface RunningProcess {
  readonly url: string;
  readonly shutdown: Shutdown;
  stop(): Promise<void>;
}

export async function startProcessor(name: ProcessorName, config: Config, endpoints: StackEndpoints): Promise<RunningProcess> {
  switch (name) {
    case 'webhook':
      return config.WEBHOOK_WORKERS > 1 ? startWebhookCluster({ config, endpoints }) : startWebhook({ config, endpoints });
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
    case 'notifier':
      return startNotifier({ config, endpoints });
  }
}
