// Wiring of the accumulator process (consumer group `accumulator`): the global ETH → USDT
// micro-batch window.
//
// - It consumes the compacted pipeline-config topic through the shared batch consumer (inbox on
//   change_id, so a replay is dropped) and keeps the newest micro-batch threshold in
//   pipeline_settings, never rolling a newer one back.
// - It checks the window on three triggers, all coalesced into at most one running and one queued
//   check (core/processing/window-process.ts): a NOTIFY on `ledger_pending` from the commit of a
//   writer of pending rows (latency), the punctuation on the injected clock (the max-wait trigger on
//   an idle pipeline), and each committed pipeline-config chunk (a new threshold applies at once).
//   A check is incremental (incremental-window.ts): each notification's payload is added to a
//   running summary of the window in O(1), and the full evaluation (micro-batch-evaluation.ts) runs
//   only when that summary says a trigger may fire.
// - Before each evaluation it knows ChangeNow's range for ETH → USDT (cached; asked outside the
//   window's transaction), so it never forms a conversion the exchange would refuse: it splits
//   above the maximum and waits below the minimum (micro-batch-window.ts).
// - Any number of instances may run: evaluations serialise on an advisory lock (see
//   micro-batch-evaluation.ts), and the pipeline-config partition belongs to one of them at a time.
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Config } from '../../core/config.ts';
import { PipelineError } from '../../core/errors.ts';
import { clockOf } from '../../core/clock.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { subscribe, type ConsumedRecord } from '../../core/processing/consumed-record.ts';
import type { Processor } from '../../core/processing/processor.ts';
import type { PipelineConfig } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import type { RunningWindowProcess, StartWindowProcessOptions } from '../../core/processing/window-runner.ts';
import { startWindowProcess } from '../../core/processing/window-process.ts';
import { ledgerPendingChannel } from '../../db/ledger-notifications.ts';
import { createMicroBatchEvaluator, type WindowEvaluation, type WindowRules } from './micro-batch-evaluation.ts';
import { createIncrementalWindow, type WindowCheck } from './incremental-window.ts';
import type { PendingSummary } from './pending-summary.ts';
import { isNewerChange, thresholdProblemOf } from './micro-batch-threshold.ts';
import { totalsOf, waitedMs } from './micro-batch-window.ts';
import { applyThresholdChange, type ThresholdChangeRow } from './pipeline-settings.ts';
import { createChangeNowClient } from '../../connectors/changenow/changenow-client.ts';
import { createConversionRange } from './conversion-range.ts';
import type { WindowHoldState } from './micro-batch-window.ts';

export const accumulatorConsumerGroup = 'accumulator';

/** A range call must not hold the window up for ChangeNow's whole retry budget: the next evaluation asks again. */
const rangeRetryBudgetMsMax = 5_000;

export type StartAccumulatorOptions = StartWindowProcessOptions;

export type RunningAccumulator = RunningWindowProcess;

/** The window's rules from the configuration, checked once at start-up. */
export function windowRulesOf(config: Config): WindowRules {
  const ceilingUsd = new Decimal(config.MICRO_BATCH_THRESHOLD_MAX_USD);
  const defaultUsd = new Decimal(config.MICRO_BATCH_THRESHOLD_USD);
  const problem = thresholdProblemOf(defaultUsd, ceilingUsd);
  if (problem !== undefined) throw new PipelineError(`Invalid configuration:\n  MICRO_BATCH_THRESHOLD_USD: ${problem.message}`, { context: { rule: problem.rule } });
  return { defaultUsd, ceilingUsd, maxWaitMs: config.MICRO_BATCH_MAX_WAIT, membersMax: config.MICRO_BATCH_MEMBERS_MAX };
}

/** The pipeline-config handler's store: the threshold in force, over the chunk's transaction. */
interface PipelineSettingsStore {
  applyThresholdChange(change: ThresholdChangeRow): Promise<boolean>;
}

/** The change a chunk stored (or found older than the one in force): told after the commit. */
interface ThresholdStored {
  readonly change: PipelineConfig;
  readonly correlationId: string;
  readonly applied: boolean;
}

type PipelineConfigProcessor = Processor<'pipeline-config', PipelineSettingsStore, ThresholdStored | null>;

function createPipelineConfigProcessor(rules: WindowRules, log: Logger): PipelineConfigProcessor {
  return {
    subscriptions: [subscribe(topicNames.pipelineConfig, 'pipeline-config', (value) => value.change_id)],
    openStore: (transaction) => ({ applyThresholdChange: (change) => applyThresholdChange(transaction, change) }),
    handle: createPipelineConfigHandler(rules, log),
    afterCommit(results) {
      for (const stored of results) {
        if (stored === null) continue;
        const { change, correlationId, applied } = stored;
        log.info(
          {
            changeId: change.change_id,
            thresholdUsd: change.micro_batch_threshold_usd.toFixed(),
            changedBy: change.changed_by,
            changedAt: change.changed_at.toISOString(),
            correlationId,
          },
          applied ? 'micro-batch threshold in force' : 'micro-batch threshold change older than the one in force; kept the newer',
        );
      }
    },
  };
}

function createPipelineConfigHandler(rules: WindowRules, log: Logger): PipelineConfigProcessor['handle'] {
  return async (records, context) => {
    // Only the newest valid change of the chunk matters: one upsert, not one per record.
    let newest: { record: ConsumedRecord<'pipeline-config'>; change: PipelineConfig } | undefined;
    for (const record of records) {
      const change = record.value;
      const problem = thresholdProblemOf(change.micro_batch_threshold_usd, rules.ceilingUsd);
      if (problem !== undefined) {
        log.warn({ changeId: change.change_id, rule: problem.rule, correlationId: record.correlationId }, `pipeline-config change refused: ${problem.message}`);
        context.reject(record, 'micro_batch_threshold_usd', problem.rule, problem.message);
        continue;
      }
      const candidate = { changeId: change.change_id, changedAt: change.changed_at };
      if (newest === undefined || isNewerChange(candidate, { changeId: newest.change.change_id, changedAt: newest.change.changed_at })) {
        newest = { record, change };
      }
    }
    if (newest === undefined) return null;
    const { change, record } = newest;
    const applied = await context.store.applyThresholdChange({
      changeId: change.change_id,
      thresholdUsd: change.micro_batch_threshold_usd,
      changedBy: change.changed_by,
      changedAt: change.changed_at,
    });
    return { change, correlationId: record.correlationId, applied };
  };
}

interface AccumulatorMetrics {
  observe(evaluation: WindowEvaluation): void;
  /** A check the running summary answered alone: it can only over-estimate (incremental-window.ts). */
  observeSkipped(summary: PendingSummary, now: Date): void;
  checked(check: WindowCheck): void;
  failed(): void;
  readonly evaluationSeconds: Histogram;
  readonly fullEvaluationSeconds: Histogram;
  readonly listenerConnected: Gauge;
}

function createAccumulatorMetrics(registry: MetricsRegistry, rules: WindowRules): AccumulatorMetrics {
  const batches = new Counter({ name: 'accumulator_batches_total', help: 'Micro-batches closed, by trigger', labelNames: ['trigger'] as const, registers: [registry] });
  const members = new Counter({ name: 'accumulator_batch_members_total', help: 'Payments moved to swapping, by trigger', labelNames: ['trigger'] as const, registers: [registry] });
  const failures = new Counter({ name: 'accumulator_evaluation_failures_total', help: 'Window evaluations that failed and were rolled back', registers: [registry] });
  const evaluationSeconds = new Histogram({
    name: 'accumulator_evaluation_seconds',
    help: 'Time of one window check (skipped by the running summary or evaluated in full), lock wait included',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const fullEvaluationSeconds = new Histogram({
    name: 'accumulator_full_evaluation_seconds',
    help: 'Time of one full window evaluation (lock, pending rows read FOR UPDATE, decision, writes), lock wait included',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const checks = new Counter({
    name: 'accumulator_window_checks_total',
    help: 'Window checks (notifications, punctuations, config chunks; coalesced), by outcome: skipped by the running summary or evaluated in full',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const rebuilds = new Counter({ name: 'accumulator_summary_rebuilds_total', help: 'Times the running summary of the window was rebuilt from the ledger (start, reconnect, unknown payload, resync)', registers: [registry] });
  // Gauges are floats: they are for dashboards and alerts only, never read back as money.
  const pendingUsd = new Gauge({ name: 'accumulator_pending_usd', help: 'USD pending conversion after the last check (exact after a full evaluation, an upper bound after a skipped one)', registers: [registry] });
  const pendingPayments = new Gauge({ name: 'accumulator_pending_payments', help: 'Payments pending conversion after the last check (exact after a full evaluation, an upper bound after a skipped one)', registers: [registry] });
  const oldestSeconds = new Gauge({ name: 'accumulator_oldest_pending_seconds', help: 'How long the oldest pending payment has waited', registers: [registry] });
  const heldPayments = new Gauge({ name: 'accumulator_held_payments', help: "Payments pending past a trigger because of the exchange's range, by hold", labelNames: ['state'] as const, registers: [registry] });
  const thresholdUsd = new Gauge({ name: 'accumulator_threshold_usd', help: 'Micro-batch threshold in force at the last evaluation', registers: [registry] });
  const listenerConnected = new Gauge({ name: 'accumulator_ledger_listener_connected', help: '1 while LISTEN ledger_pending is connected', registers: [registry] });
  new Gauge({ name: 'accumulator_max_wait_seconds', help: 'MICRO_BATCH_MAX_WAIT', registers: [registry] }).set(rules.maxWaitMs / 1_000);
  return {
    evaluationSeconds,
    fullEvaluationSeconds,
    listenerConnected,
    checked(check) {
      checks.inc({ outcome: check.kind });
      if (check.rebuilt) rebuilds.inc();
    },
    observeSkipped(summary, now) {
      pendingUsd.set(Number(summary.usdNet.toFixed(2)));
      pendingPayments.set(summary.count);
      oldestSeconds.set(summary.oldestReceivedAt === null ? 0 : (now.getTime() - summary.oldestReceivedAt.getTime()) / 1_000);
    },
    observe(evaluation) {
      for (const batch of evaluation.batches) {
        batches.inc({ trigger: batch.trigger });
        members.inc({ trigger: batch.trigger }, batch.members.length);
      }
      pendingUsd.set(Number(totalsOf(evaluation.remaining).usd.toFixed(2)));
      pendingPayments.set(evaluation.remaining.length);
      const oldest = evaluation.remaining[0];
      oldestSeconds.set(oldest === undefined ? 0 : waitedMs(oldest, evaluation.now) / 1_000);
      thresholdUsd.set(Number(evaluation.threshold.thresholdUsd.toFixed(2)));
      for (const state of ['below_exchange_minimum', 'above_exchange_maximum'] as const) {
        heldPayments.set({ state }, evaluation.holds.find((hold) => hold.state === state)?.payments.length ?? 0);
      }
    },
    failed: () => failures.inc(),
  };
}

export async function startAccumulator(options: StartAccumulatorOptions): Promise<RunningAccumulator> {
  const { config, endpoints } = options;
  const name = accumulatorConsumerGroup;
  const log = options.log ?? createLogger({ name, level: config.LOG_LEVEL });
  const clock = clockOf(options.now);
  const now = (): Date => clock.now();
  const rules = windowRulesOf(config);
  if (config.CHANGENOW_API_KEY === undefined) throw new PipelineError('CHANGENOW_API_KEY is required to run the accumulator (it asks ChangeNow for the conversion range).');
  const apiKey = config.CHANGENOW_API_KEY;

  return startWindowProcess({
    name,
    config,
    endpoints,
    port: options.port ?? config.ACCUMULATOR_PORT,
    log,
    clock,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
    punctuationIntervalMs: config.WINDOW_PUNCTUATION_INTERVAL,
    createProcessor: () => createPipelineConfigProcessor(rules, log),
    createWindow: (resources) => {
      const metrics = createAccumulatorMetrics(resources.metrics, rules);
      const conversionRange = createConversionRange({
        source: createChangeNowClient({
          baseUrl: endpoints.changeNowApiUrl,
          apiKey,
          rateLimitPerSecond: config.CHANGENOW_RATE_LIMIT_PER_SECOND,
          db: resources.pool,
          requestTimeoutMs: config.CHANGENOW_REQUEST_TIMEOUT,
          retryBudgetMs: Math.min(config.CHANGENOW_RETRY_BUDGET, rangeRetryBudgetMsMax),
          log,
          metrics: resources.metrics,
        }),
        log,
        now,
        ttlMs: config.CONVERSION_RANGE_TTL,
      });
      const holds = createHoldReporter(log);
      const evaluateInFull = createMicroBatchEvaluator({
        pool: resources.pool,
        rules,
        now,
        newBatchId: options.newBatchId ?? randomUUID,
        conversionRange,
      });
      const window = createIncrementalWindow({
        pool: resources.pool,
        rules,
        now,
        refresh: conversionRange,
        evaluate: async () => {
          const stopTimer = metrics.fullEvaluationSeconds.startTimer();
          try {
            return await evaluateInFull();
          } finally {
            stopTimer();
          }
        },
      });
      return {
        evaluate: () => window.check(),
        onEvaluated: (check: WindowCheck) => {
          metrics.checked(check);
          if (check.kind === 'skipped') {
            metrics.observeSkipped(check.summary, check.now);
            return;
          }
          const { evaluation } = check;
          metrics.observe(evaluation);
          for (const batch of evaluation.batches) {
            log.info(
              {
                batchId: batch.batchId,
                trigger: batch.trigger,
                members: batch.members.length,
                totalUsd: batch.totalUsd.toFixed(),
                totalEth: batch.totalEth.toFixed(),
                thresholdUsd: batch.thresholdUsd.toFixed(),
                thresholdSource: evaluation.threshold.source.kind,
                oldestWaitedMs: batch.members[0] === undefined ? null : waitedMs(batch.members[0], evaluation.now),
              },
              'micro-batch closed: members swapping, ConversionRequested in the outbox',
            );
          }
          holds.report(evaluation);
        },
        evaluationSeconds: metrics.evaluationSeconds,
        onFailed: () => metrics.failed(),
        notifications: [
          {
            channel: ledgerPendingChannel,
            connected: metrics.listenerConnected,
            onNotification: (payload) => window.notified(payload),
            onConnected: () => window.connected(),
          },
        ],
      };
    },
  });
}

/** Tells of a hold once when it starts and once when it clears, not on every evaluation. */
function createHoldReporter(log: Logger): { report(evaluation: WindowEvaluation): void } {
  const standing = new Set<WindowHoldState>();
  return {
    report(evaluation) {
      const current = new Set(evaluation.holds.map((hold) => hold.state));
      for (const hold of evaluation.holds) {
        if (standing.has(hold.state)) continue;
        const oldest = hold.payments[0];
        log.warn(
          {
            state: hold.state,
            payments: hold.payments.length,
            heldUsd: totalsOf(hold.payments).usd.toFixed(),
            oldestWaitedMs: oldest === undefined ? null : waitedMs(oldest, evaluation.now),
            // Above the maximum no later payment can help: only an operator can.
            alert: hold.state === 'above_exchange_maximum',
          },
          hold.reason,
        );
      }
      for (const state of standing) if (!current.has(state)) log.info({ state }, 'conversion window hold cleared');
      standing.clear();
      for (const state of current) standing.add(state);
    },
  };
}
