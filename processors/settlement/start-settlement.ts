// Wiring of the settlement process (consumer group `settlement`, on swap-events):
// - the swap-event handler (settlement-handler.ts): distribution of finished conversions, failed
//   conversions back to pending, payouts marked paid only when paid, failed payouts held for retry;
// - the per-client window, incremental (incremental-payout-window.ts: a running state of the free
//   groups decides which ones payout-window-evaluation.ts decides in full), checked on three
//   triggers coalesced into at most one running and one queued check
//   (core/processing/window-process.ts): after every committed chunk, on a NOTIFY (settlement_window:
//   credits issued, a client's configuration stored, handed to the state; settlement_requests: an
//   operator's payout request), and on the punctuation of the injected clock (max age, retry
//   backoff, and the safety net for a missed notification);
// - operators' retry requests (payout-retry-requests.ts), on their own NOTIFY and punctuation.
// Any number of instances may run: chunks and evaluations serialise on the settlement lock.
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Config } from '../../core/config.ts';
import { PipelineError } from '../../core/errors.ts';
import { clockOf } from '../../core/clock.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { RunningWindowProcess, StartWindowProcessOptions } from '../../core/processing/window-runner.ts';
import { startWindowProcess } from '../../core/processing/window-process.ts';
import { createChangeNowClient } from '../../connectors/changenow/changenow-client.ts';
import { createEvmRpc } from '../../connectors/chain/evm-rpc.ts';
import { gweiToWei } from '../../connectors/chain/chain-settings.ts';
import { settlementRequestsChannel, settlementWindowChannel } from '../../db/settlement-notifications.ts';
import { createSettlementProcessor } from './settlement-handler.ts';
import { createChosenGroupsEvaluator } from './payout-window-evaluation.ts';
import { createIncrementalPayoutWindow, type PayoutWindowCheck } from './incremental-payout-window.ts';
import { createQuoteCache, type PayoutQuoteSource } from './payout-quotes.ts';
import { createTransferFeeSource } from './transfer-fee-source.ts';
import type { PayoutWindowRules } from './payout-window.ts';
import type { RetryRules } from './payout-retry.ts';
import { startRetryRequestHandling } from './payout-retry-requests.ts';

export const settlementConsumerGroup = 'settlement';

/** A quote call must not hold the window up for ChangeNow's whole retry budget: the next evaluation asks again. */
const quoteRetryBudgetMsMax = 15_000;

export type StartSettlementOptions = StartWindowProcessOptions;

export type RunningSettlement = RunningWindowProcess;

export function payoutWindowRulesOf(config: Config): PayoutWindowRules {
  const rules = { maxAgeMs: config.PAYOUT_MAX_AGE, maxSwapUsdt: new Decimal(config.PAYOUT_MAX_SWAP_USD), feeFloorPercent: new Decimal(config.PAYOUT_FEE_FLOOR_PERCENT) };
  if (rules.maxSwapUsdt.lte(0)) throw new PipelineError('Invalid configuration:\n  PAYOUT_MAX_SWAP_USD: must be greater than 0');
  if (rules.feeFloorPercent.gte(100)) throw new PipelineError('Invalid configuration:\n  PAYOUT_FEE_FLOOR_PERCENT: must be below 100');
  return rules;
}

export function retryRulesOf(config: Config): RetryRules {
  return { attemptsMax: config.PAYOUT_RETRY_ATTEMPTS_MAX, backoffMs: config.PAYOUT_RETRY_BACKOFF };
}

interface WindowMetrics {
  observe(check: PayoutWindowCheck): void;
  failed(): void;
  readonly evaluationSeconds: Histogram;
  readonly listenerConnected: Gauge;
  readonly windowListenerConnected: Gauge;
}

function createWindowMetrics(registry: MetricsRegistry): WindowMetrics {
  const batches = new Counter({ name: 'settlement_payout_batches_total', help: 'Payout batches formed, by reason', labelNames: ['reason'] as const, registers: [registry] });
  const failures = new Counter({ name: 'settlement_window_evaluation_failures_total', help: 'Window evaluations that failed and were rolled back', registers: [registry] });
  const evaluationSeconds = new Histogram({
    name: 'settlement_window_evaluation_seconds',
    help: 'Time of one per-client window evaluation, quotes and lock wait included',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [registry],
  });
  // Gauges are floats: dashboards and alerts only, never read back as money.
  const groups = new Gauge({ name: 'settlement_window_groups', help: 'Free unpaid groups after the last evaluation, by state', labelNames: ['state'] as const, registers: [registry] });
  const unpaidUsdt = new Gauge({ name: 'settlement_window_free_unpaid_usdt', help: 'Free unpaid USDT after the last evaluation', registers: [registry] });
  const listenerConnected = new Gauge({ name: 'settlement_request_listener_connected', help: '1 while LISTEN settlement_requests is connected', registers: [registry] });
  const windowListenerConnected = new Gauge({ name: 'settlement_window_listener_connected', help: '1 while LISTEN settlement_window is connected', registers: [registry] });
  return {
    evaluationSeconds,
    listenerConnected,
    windowListenerConnected,
    observe(check) {
      for (const batch of [...check.created, ...check.retried]) batches.inc({ reason: batch.reason });
      // The running state's counts (incremental-payout-window.ts): every free group, the ones the
      // decision did not look at being below their thresholds; states of the others as decided.
      const counts = new Map<string, number>([['below_threshold', 0], ['due', 0], ['below_exchange_minimum', 0], ['above_exchange_maximum', 0], ['fee_floor_not_met', 0], ['quote_unavailable', 0]]);
      let decidedOther = 0;
      for (const decision of check.decisions) {
        const state = decision.hold?.state ?? (decision.trigger === null ? 'below_threshold' : 'due');
        if (state !== 'below_threshold') decidedOther += 1;
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      // A skipped check decided nothing because no group may be due: all of them are below their thresholds.
      for (const [state, count] of counts) groups.set({ state }, state === 'below_threshold' ? Math.max(0, check.groups - decidedOther) : count);
      unpaidUsdt.set(Number(check.unpaidUsdt.toFixed(2)));
    },
    failed: () => failures.inc(),
  };
}

export async function startSettlement(options: StartSettlementOptions): Promise<RunningSettlement> {
  const { config, endpoints } = options;
  const name = settlementConsumerGroup;
  const log = options.log ?? createLogger({ name, level: config.LOG_LEVEL });
  const clock = clockOf(options.now);
  const now = (): Date => clock.now();
  // Checked before anything opens: a bad rule stops the process with the variable's name.
  const rules = payoutWindowRulesOf(config);
  const retryRules = retryRulesOf(config);
  if (config.CHANGENOW_API_KEY === undefined) throw new PipelineError('CHANGENOW_API_KEY is required to run settlement (it asks ChangeNow for payout ranges and fees).');
  const apiKey = config.CHANGENOW_API_KEY;
  const maxPriorityFeePerGasWei = gweiToWei(config.CHAIN_MAX_PRIORITY_FEE_GWEI, 'CHAIN_MAX_PRIORITY_FEE_GWEI');

  return startWindowProcess({
    name,
    config,
    endpoints,
    port: options.port ?? config.SETTLEMENT_PORT,
    log,
    clock,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
    punctuationIntervalMs: config.WINDOW_PUNCTUATION_INTERVAL,
    createProcessor: (resources) => createSettlementProcessor({ log, metrics: resources.metrics, retryRules }),
    createWindow: (resources) => {
      const metrics = createWindowMetrics(resources.metrics);
      const source: PayoutQuoteSource = createChangeNowClient({
        baseUrl: endpoints.changeNowApiUrl,
        apiKey,
        rateLimitPerSecond: config.CHANGENOW_RATE_LIMIT_PER_SECOND,
        db: resources.pool,
        requestTimeoutMs: config.CHANGENOW_REQUEST_TIMEOUT,
        retryBudgetMs: Math.min(config.CHANGENOW_RETRY_BUDGET, quoteRetryBudgetMsMax),
        log,
        metrics: resources.metrics,
      });
      const evaluate = createChosenGroupsEvaluator({
        pool: resources.pool,
        rules,
        quotes: createQuoteCache({
          source,
          // Direct payouts' fee floor: the node's gas price (EVM_RPC_URL) and the last conversion's rate.
          transferFees: createTransferFeeSource({
            rpc: createEvmRpc({ url: endpoints.evmRpcUrl, timeoutMs: config.CHAIN_RPC_TIMEOUT }),
            database: resources.pool,
            maxPriorityFeePerGasWei,
          }),
          log,
          now,
          stopped: resources.draining,
        }),
        now,
        newBatchId: options.newBatchId ?? randomUUID,
        log,
        groupsPerEvaluationMax: config.PAYOUT_WINDOW_GROUPS_MAX,
      });
      const window = createIncrementalPayoutWindow({
        pool: resources.pool,
        maxAgeMs: rules.maxAgeMs,
        now,
        evaluate,
        groupsPerEvaluationMax: config.PAYOUT_WINDOW_GROUPS_MAX,
      });
      return {
        evaluate: () => window.check(),
        onEvaluated: (evaluation: PayoutWindowCheck) => {
          metrics.observe(evaluation);
          for (const batch of [...evaluation.created, ...evaluation.retried]) {
            log.info(
              {
                payoutBatchId: batch.batchId,
                clientId: batch.key.clientId,
                reason: batch.reason,
                amount: batch.sourceAmount.toFixed(),
                currency: batch.sourceCurrency,
                credits: batch.credits.length,
                retryOf: batch.retryOf?.batchId ?? null,
                toCurrency: batch.key.payoutCurrency,
              },
              'payout batch formed: PayoutRequested in the outbox',
            );
          }
        },
        evaluationSeconds: metrics.evaluationSeconds,
        onFailed: () => metrics.failed(),
        notifications: [
          { channel: settlementRequestsChannel, connected: metrics.listenerConnected },
          {
            channel: settlementWindowChannel,
            connected: metrics.windowListenerConnected,
            onNotification: (payload) => window.notified(payload),
            onConnected: () => window.connected(),
          },
        ],
      };
    },
    onRunning: [
      (running) =>
        startRetryRequestHandling({
          pool: running.resources.pool,
          databaseUrl: endpoints.databaseUrl,
          applicationName: name,
          log,
          clock,
          punctuationIntervalMs: config.WINDOW_PUNCTUATION_INTERVAL,
          evaluateWindow: () => running.window?.request() ?? Promise.resolve(),
          shutdown: running.shutdown,
        }),
    ],
  });
}
