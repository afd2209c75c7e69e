// The cost of one evaluation of settlement's per-client payout window, per notification-like round,
// as what is unpaid grows, at 1k, 10k and 100k free unpaid credits spread over many clients: the
// incremental check settlement runs (incremental-payout-window.ts: the notified conversion's
// credits added to the running state, one probe for operator requests and due retries, the full
// decision only for groups that may be due) against the paging evaluation every trigger ran before
// it (createPayoutWindowEvaluator: PAYOUT_WINDOW_GROUPS_MAX groups' totals chosen from every free
// credit, read again under the advisory lock, decided, holds rewritten).
//
//   npx tsx bench/payout-window-cost.ts [--sizes 1000,10000,100000] [--evaluations 50] [--full-evaluations 10] [--credits 5] [--credits-per-group 10] [--due 3]
//
// Planting is set-based SQL, as settlement's distribution leaves it: one conversion batch per
// planting, its members' ledger rows, one credit of 1 USDT each, credited now (PAYOUT_MAX_AGE is
// far), and — for the rounds of the incremental path — the NOTIFY conversion-store.ts sends in the
// same transaction. The planted credits fill groups of --credits-per-group (one client each, xmr,
// threshold 1,000,000 USD), so 1k credits are 100 groups and 100k are 10,000 groups, more than the
// PAYOUT_WINDOW_GROUPS_MAX one paging evaluation reads. Then, per size and path, two cases:
// - nothing due: each round commits --credits new credits of 1 USDT into existing groups (spread
//   over them, as a chunk of distributions would be), then times one check / evaluation;
// - a few due: each round commits --due new groups of one 200 USDT credit with a 100 USD threshold
//   (xmr, quoted by the stack's ChangeNow simulator), then times one check / evaluation, which pays
//   each of them (a batch per group). The first round fetches the quotes; the cache answers the rest.
// The incremental window listens with a real LISTEN settlement_window (db/notification-listener.ts);
// each round waits for its notification before the timing starts; its first check rebuilds the
// state with one aggregate query (reported apart: paid at start and on a reconnect). Committing the
// credits is never inside the timing. An evaluation that fails (the pool's 30 s statement timeout)
// is counted in the outcomes and not timed; after two failures in a row the path stops at that size.
// The baseline is Kafka's own ProducerPerformance on the same broker in the same run, with records
// of a PaymentReceived's size; the ratio is evaluations/s ÷ its records/s.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sql, type DatabasePool } from 'slonik';
import { createLogger } from '../core/logger.ts';
import { createMetricsRegistry } from '../core/metrics.ts';
import { createChangeNowClient } from '../connectors/changenow/changenow-client.ts';
import { localChangeNowApiKey } from '../connectors/changenow-simulator/local-api-key.ts';
import { createEvmRpc } from '../connectors/chain/evm-rpc.ts';
import { gweiToWei } from '../connectors/chain/chain-settings.ts';
import { createDatabasePool } from '../db/pool.ts';
import { settlementWindowChannel } from '../db/settlement-notifications.ts';
import { freeCreditCount, plantDueGroups, plantSpreadCredits, plantUndueUpTo, undueGroupCount } from './support/payout-window-seed.ts';
import { startNotificationListener } from '../db/notification-listener.ts';
import {
  createChosenGroupsEvaluator,
  createPayoutWindowEvaluator,
  type PayoutWindowEvaluation,
  type PayoutWindowEvaluatorOptions,
} from '../processors/settlement/payout-window-evaluation.ts';
import { createIncrementalPayoutWindow } from '../processors/settlement/incremental-payout-window.ts';
import { createQuoteCache } from '../processors/settlement/payout-quotes.ts';
import { createTransferFeeSource } from '../processors/settlement/transfer-fee-source.ts';
import { payoutWindowRulesOf } from '../processors/settlement/start-settlement.ts';
import { formatTable, runBenchmark, withBenchStack, printRunHeader, type BenchStack } from './support/bench-stack.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { nearestRank } from './support/open-loop.ts';
import { parseSizes } from './support/sizes-argument.ts';

const log = createLogger({ name: 'bench', level: 'silent' });

interface BenchOptions {
  readonly sizes: readonly number[];
  readonly evaluations: number;
  readonly fullEvaluations: number;
  readonly credits: number;
  readonly creditsPerGroup: number;
  readonly due: number;
}

function argumentsOf(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '1000,10000,100000' },
      evaluations: { type: 'string', default: '50' },
      'full-evaluations': { type: 'string', default: '10' },
      credits: { type: 'string', default: '5' },
      'credits-per-group': { type: 'string', default: '10' },
      due: { type: 'string', default: '3' },
    },
    strict: true,
  });
  const sizes = parseSizes(values.sizes);
  const integer = (name: string, text: string, min: number, max: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${text}`);
    return value;
  };
  return {
    sizes,
    evaluations: integer('evaluations', values.evaluations, 5, 10_000),
    fullEvaluations: integer('full-evaluations', values['full-evaluations'], 2, 10_000),
    credits: integer('credits', values.credits, 1, 1_000),
    creditsPerGroup: integer('credits-per-group', values['credits-per-group'], 1, 10_000),
    due: integer('due', values.due, 1, 100),
  };
}

interface Row {
  readonly size: number;
  readonly path: string;
  readonly pendingBefore: number;
  readonly groupsBefore: number;
  readonly latencies: readonly number[];
  readonly outcomes: string;
}

function outcomeOf(evaluation: PayoutWindowEvaluation & { readonly kind?: string }): string {
  const held = evaluation.decisions.filter((decision) => decision.hold !== null).length;
  const waiting = evaluation.decisions.filter((decision) => decision.needs.length > 0).length;
  const kind = evaluation.kind === undefined ? '' : `${evaluation.kind}: `;
  return `${kind}${evaluation.decisions.length} decided, ${evaluation.created.length} batch(es)${held > 0 ? `, ${held} held` : ''}${waiting > 0 ? `, ${waiting} waiting for quotes` : ''}`;
}

/** One way of evaluating the window: `evaluate` is timed; `arrived` resolves once the round's notification reached it (the incremental path). */
interface WindowPath {
  readonly name: string;
  readonly notify: boolean;
  readonly evaluations: number;
  evaluate(): Promise<PayoutWindowEvaluation & { readonly kind?: string }>;
  arrived(): Promise<void>;
}

type Round = (round: number) => Promise<void>;

async function measure(pool: DatabasePool, path: WindowPath, size: number, label: string, round: Round, check: (evaluation: PayoutWindowEvaluation) => void): Promise<Row> {
  const pendingBefore = await freeCreditCount(pool);
  const groups = await undueGroupCount(pool);
  const latencies: number[] = [];
  const outcomes = new Map<string, number>();
  const count = (outcome: string): void => {
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  };
  let failuresInARow = 0;
  for (let index = 0; index < path.evaluations && failuresInARow < 2; index++) {
    const delivered = path.arrived();
    await round(index);
    await delivered;
    const started = performance.now();
    try {
      const evaluation = await path.evaluate();
      latencies.push(performance.now() - started);
      check(evaluation);
      count(outcomeOf(evaluation));
      failuresInARow = 0;
    } catch (error) {
      count(`failed (${error instanceof Error ? error.name : 'error'}, after ${((performance.now() - started) / 1_000).toFixed(1)} s)`);
      failuresInARow += 1;
    }
  }
  return { size, path: `${path.name}, ${label}`, pendingBefore, groupsBefore: groups, latencies, outcomes: [...outcomes].map(([key, times]) => `${key} ×${times}`).join('; ') };
}

async function measureUndue(pool: DatabasePool, path: WindowPath, size: number, options: BenchOptions): Promise<Row> {
  const groups = await undueGroupCount(pool);
  return measure(
    pool,
    path,
    size,
    'nothing due',
    (round) => plantSpreadCredits(pool, options.credits, groups, round, path.notify),
    (evaluation) => {
      if (evaluation.created.length > 0) throw new Error(`the window formed ${evaluation.created.length} batch(es): the planted groups must stay below their thresholds`);
    },
  );
}

async function measureDue(pool: DatabasePool, path: WindowPath, size: number, options: BenchOptions): Promise<Row> {
  return measure(
    pool,
    path,
    size,
    `${options.due} groups due`,
    () => plantDueGroups(pool, options.due, path.notify),
    () => undefined,
  );
}

function evaluatorOptions(stack: BenchStack, pool: DatabasePool): PayoutWindowEvaluatorOptions {
  const { config, endpoints } = stack;
  const now = (): Date => new Date();
  const source = createChangeNowClient({
    baseUrl: endpoints.changeNowApiUrl,
    apiKey: config.CHANGENOW_API_KEY ?? localChangeNowApiKey,
    rateLimitPerSecond: config.CHANGENOW_RATE_LIMIT_PER_SECOND,
    db: pool,
    requestTimeoutMs: config.CHANGENOW_REQUEST_TIMEOUT,
    retryBudgetMs: 15_000,
    log,
    metrics: createMetricsRegistry('bench-payout-window'),
  });
  const quotes = createQuoteCache({
    source,
    transferFees: createTransferFeeSource({
      rpc: createEvmRpc({ url: endpoints.evmRpcUrl, timeoutMs: config.CHAIN_RPC_TIMEOUT }),
      database: pool,
      maxPriorityFeePerGasWei: gweiToWei(config.CHAIN_MAX_PRIORITY_FEE_GWEI, 'CHAIN_MAX_PRIORITY_FEE_GWEI'),
    }),
    log,
    now,
  });
  return { pool, rules: payoutWindowRulesOf(config), quotes, now, newBatchId: randomUUID, log, groupsPerEvaluationMax: config.PAYOUT_WINDOW_GROUPS_MAX };
}

/** The incremental path over a real LISTEN; its first check (the rebuild) is timed apart. */
async function measureIncremental(stack: BenchStack, pool: DatabasePool, size: number, options: BenchOptions): Promise<{ rows: Row[]; rebuildMs: number }> {
  const evaluator = evaluatorOptions(stack, pool);
  const window = createIncrementalPayoutWindow({
    pool,
    maxAgeMs: evaluator.rules.maxAgeMs,
    now: evaluator.now,
    evaluate: createChosenGroupsEvaluator(evaluator),
    groupsPerEvaluationMax: stack.config.PAYOUT_WINDOW_GROUPS_MAX,
  });
  let arrived: (() => void) | undefined;
  let connected: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const listener = startNotificationListener({
    databaseUrl: stack.endpoints.databaseUrl,
    channel: settlementWindowChannel,
    applicationName: 'bench-payout-window',
    log,
    onNotification: (payload) => {
      window.notified(payload);
      arrived?.();
    },
    onConnected: () => {
      window.connected();
      connected?.();
    },
  });
  try {
    await ready;
    const rebuildStarted = performance.now();
    await window.check();
    const rebuildMs = performance.now() - rebuildStarted;
    const path: WindowPath = {
      name: 'incremental check',
      notify: true,
      evaluations: options.evaluations,
      evaluate: () => window.check(),
      arrived: () =>
        new Promise<void>((resolve) => {
          arrived = resolve;
        }),
    };
    return { rows: [await measureUndue(pool, path, size, options), await measureDue(pool, path, size, options)], rebuildMs };
  } finally {
    await listener.stop();
  }
}

async function measureFull(stack: BenchStack, pool: DatabasePool, size: number, options: BenchOptions): Promise<Row[]> {
  // A new evaluator per case: its page cursor starts at the first group, as after a start.
  const pathOf = (): WindowPath => {
    const evaluate = createPayoutWindowEvaluator(evaluatorOptions(stack, pool));
    return { name: 'paging evaluation (before)', notify: false, evaluations: options.fullEvaluations, evaluate, arrived: () => Promise.resolve() };
  };
  return [await measureUndue(pool, pathOf(), size, options), await measureDue(pool, pathOf(), size, options)];
}

async function main(): Promise<void> {
  const options = argumentsOf(process.argv.slice(2));
  await withBenchStack({}, log, async (stack) => {
    const pool = await createDatabasePool(stack.endpoints.databaseUrl, { applicationName: 'bench-payout-window-cost' });
    try {
      const { result: measured, baseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
        const rows: Row[] = [];
        const rebuilds: { size: number; ms: number }[] = [];
        for (const size of options.sizes) {
          await plantUndueUpTo(pool, size, options.creditsPerGroup);
          await pool.query(sql.unsafe`ANALYZE usdt_credits`);
          await pool.query(sql.unsafe`ANALYZE clients`);
          console.log(`${await freeCreditCount(pool)} free credits in ${await undueGroupCount(pool)} groups: measuring …`);
          const incremental = await measureIncremental(stack, pool, size, options);
          rows.push(...incremental.rows);
          rebuilds.push({ size, ms: incremental.rebuildMs });
          rows.push(...(await measureFull(stack, pool, size, options)));
        }
        return { rows, rebuilds };
      });

      printRunHeader(stack.mode, baseline.line);
      console.log(`PAYOUT_WINDOW_GROUPS_MAX ${stack.config.PAYOUT_WINDOW_GROUPS_MAX}`);
      console.log('');
      console.log(
        formatTable(
          ['size', 'path, case', 'free credits', 'groups', 'timed', 'mean ms', 'p50 ms', 'p95 ms', 'max ms', 'evaluations/s', 'ratio', 'outcomes'],
          measured.rows.map((row) => {
            const sorted = [...row.latencies].sort((left, right) => left - right);
            const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
            const perSecond = 1_000 / mean;
            return [
              String(row.size),
              row.path,
              String(row.pendingBefore),
              String(row.groupsBefore),
              String(row.latencies.length),
              mean.toFixed(3),
              nearestRank(sorted, 0.5).toFixed(3),
              nearestRank(sorted, 0.95).toFixed(3),
              nearestRank(sorted, 1).toFixed(3),
              perSecond.toFixed(1),
              (perSecond / baseline.recordsPerSecond).toFixed(6),
              row.outcomes,
            ];
          }),
        ),
      );
      console.log('');
      console.log(formatTable(['size', 'state rebuild (aggregate query, at start / reconnect / resync) ms', ''], measured.rebuilds.map((each) => [String(each.size), each.ms.toFixed(1), ''])));
      console.log('');
      console.log(
        `Per evaluation: ${options.credits} new credits (nothing due) or ${options.due} new due groups committed before it (not timed). ratio = evaluations/s ÷ ProducerPerformance records/s (same broker, same run).`,
      );
      console.log(
        `reproduce: npx tsx bench/payout-window-cost.ts --sizes ${options.sizes.join(',')} --evaluations ${options.evaluations} --full-evaluations ${options.fullEvaluations} --credits ${options.credits} --credits-per-group ${options.creditsPerGroup} --due ${options.due}`,
      );
    } finally {
      await pool.end();
    }
  });
}

await runBenchmark(main);
