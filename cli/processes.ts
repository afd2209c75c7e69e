// The processors `run` can start, each its own process. Later issues add router, accumulator, …
import type { Config } from '../core/config.ts';
import type { Shutdown } from '../core/shutdown.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { startWebhook } from '../processors/webhook/start-webhook.ts';

export interface RunningProcess {
  stop(): Promise<void>;
  readonly shutdown: Shutdown;
}

export const processorNames = ['webhook'] as const;
export type ProcessorName = (typeof processorNames)[number];

export function isProcessorName(name: string): name is ProcessorName {
  return (processorNames as readonly string[]).includes(name);
}

export async function startProcessor(name: ProcessorName, config: Config, endpoints: StackEndpoints): Promise<RunningProcess> {
  switch (name) {
    case 'webhook':
      return startWebhook({ config, endpoints });
  }
}
