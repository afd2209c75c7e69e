// The whole pipeline as real processes for end-to-end tests: each processor started through
// `cli run` on a free port with settings that make a scenario take seconds instead of minutes, and
// typed access to them (their URLs, the admin API).
import { inject } from 'vitest';
import { topicNames } from '../../topics/topics.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { skipGroupToLatest } from './consumer-groups.ts';
import { startProcessorProcess, testAdminToken, type ProcessorProcess } from './processor-process.ts';

/** Each processor and the variable its port is read from. */
export const pipelineProcessorPorts = {
  webhook: 'WEBHOOK_PORT',
  admin: 'ADMIN_PORT',
  router: 'ROUTER_PORT',
  accumulator: 'ACCUMULATOR_PORT',
  changenow: 'CHANGENOW_CONNECTOR_PORT',
  chain: 'CHAIN_CONNECTOR_PORT',
  settlement: 'SETTLEMENT_PORT',
} as const;

export type PipelineProcessorName = keyof typeof pipelineProcessorPorts;

export const pipelineProcessorNames = Object.keys(pipelineProcessorPorts) as readonly PipelineProcessorName[];

export const wholePipelineEnvironment: Readonly<Record<string, string>> = {
  MICRO_BATCH_THRESHOLD_USD: '20',
  // Only the threshold closes batches in these scenarios; the max-wait trigger has its own tests.
  MICRO_BATCH_MAX_WAIT: '1h',
  WINDOW_PUNCTUATION_INTERVAL: '500ms',
  CHANGENOW_POLL_INTERVAL: '200ms',
  CHANGENOW_POLL_INTERVAL_MAX: '1s',
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_CONFIRMATIONS: '2',
  PAYOUT_RETRY_BACKOFF: '1s',
  KAFKA_SESSION_TIMEOUT: '6s',
  KAFKA_REBALANCE_TIMEOUT: '10s',
  WALLET_CHANGE_COOLDOWN: '1s',
};

export interface AdminAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * Moves the connectors' and settlement's groups to the end of their topics (no member may be live):
 * commands and events other files left there are not this file's to run, and running them — real
 * exchanges, real transfers — would only make this file wait.
 */
export async function skipEarlierCommands(endpoints: StackEndpoints): Promise<void> {
  await skipGroupToLatest(endpoints, 'changenow', [topicNames.conversionRequests, topicNames.payoutRequests, topicNames.chainEvents]);
  await skipGroupToLatest(endpoints, 'chain', [topicNames.transferRequests]);
  await skipGroupToLatest(endpoints, 'settlement', [topicNames.swapEvents]);
}

export interface WholePipeline {
  /** Moves the connectors' and settlement's groups to the end of their topics: commands other files left there are not this file's to run. */
  readonly skipEarlierCommands: () => Promise<void>;
  readonly start: (name: PipelineProcessorName) => Promise<ProcessorProcess>;
  readonly url: (name: PipelineProcessorName) => string;
  readonly admin: (method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown) => Promise<AdminAnswer>;
  /** SIGTERM to every process started, and wait for them. */
  readonly stop: () => Promise<void>;
}

export function createWholePipeline(options: { readyTimeoutMs: number }): WholePipeline {
  const endpoints = inject('endpoints');
  const processes: Partial<Record<PipelineProcessorName, ProcessorProcess>> = {};
  const url = (name: PipelineProcessorName): string => {
    const running = processes[name];
    if (running === undefined) throw new Error(`${name} is not running`);
    return running.url;
  };
  return {
    skipEarlierCommands: () => skipEarlierCommands(endpoints),
    start: async (name) => {
      const started = await startProcessorProcess(name, pipelineProcessorPorts[name], { environment: wholePipelineEnvironment, readyTimeoutMs: options.readyTimeoutMs });
      processes[name] = started;
      return started;
    },
    url,
    admin: async (method, path, body) => {
      const response = await fetch(`${url('admin')}${path}`, {
        method,
        headers: { authorization: `Bearer ${testAdminToken}`, 'content-type': 'application/json', 'x-actor-note': 'e2e@example.com' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    stop: async () => {
      await Promise.all(Object.values(processes).map((running) => running.terminate()));
    },
  };
}
