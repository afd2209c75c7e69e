// The cost of one check of the accumulator's global micro-batch window, per notification, as what
// is pending grows: the incremental check (processors/accumulator/incremental-window.ts: the
// notification's payload added to the running summary, the threshold read, the full evaluation
// skipped because nothing can fire) against the full evaluation every notification used to run
// (createMicroBatchEvaluator: advisory lock, every pending row read FOR UPDATE and sorted, holds
// rewritten), at 1k, 10k and 100k pending payments below the threshold.
//
//   npx tsx bench/window-cost.ts [--sizes 1000,10000,100000] [--notifications 200] [--full-evaluations 50] [--rows 5]
//
// The rows are planted with set-based SQL as the router writes them (pending_conversion, 3 % fee on
// both sides, received_at now so MAX_WAIT is far; 0.5 USD net each, so even 100k of them stay below
// the threshold, which is set to the ceiling). Then, per size: the incremental window is created
// over the real pool with a real LISTEN ledger_pending (db/notification-listener.ts); its first
// check rebuilds the summary with one aggregate query (reported apart: it is paid at start and on a
// reconnect, not per notification); then each round commits `--rows` new pending rows with the
// router's NOTIFY payload in one transaction, waits for the notification to arrive, hands it to the
// window and times `check()` alone. For the old path each round commits the rows the same way and
// times one call of the full evaluator. Writing the rows is never inside the timing.
// The baseline is Kafka's own ProducerPerformance on the same broker in the same run, with records
// of a PaymentReceived's size; the ratio is checks/s ÷ its records/s.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sql, type DatabasePool } from 'slonik';
import { createLogger } from '../core/logger.ts';
import { z } from 'zod';
import { decimalColumn } from '../db/column-types.ts';
import { createDatabasePool } from '../db/pool.ts';
import { arrivalOf, encodeLedgerPending, ledgerPendingChannel } from '../db/ledger-notifications.ts';
import { startNotificationListener } from '../db/notification-listener.ts';
import { createMicroBatchEvaluator } from '../processors/accumulator/micro-batch-evaluation.ts';
import { createIncrementalWindow } from '../processors/accumulator/incremental-window.ts';
import { microBatchThresholdSetting } from '../processors/accumulator/pipeline-settings.ts';
import { windowRulesOf } from '../processors/accumulator/start-accumulator.ts';
import { formatTable, runBenchmark, withBenchStack, printRunHeader } from './support/bench-stack.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { nearestRank } from './support/open-loop.ts';
import { parseSizes } from './support/sizes-argument.ts';

const log = createLogger({ name: 'bench', level: 'silent' });
const clientId = '-1009000000777';
// Gross 0.51546392 USD at 3 %: fee 0.01546392 (rounded to 8 places in SQL), net 0.5.
const usdGross = '0.51546392';
const ethGross = '0.000128865979';

interface BenchOptions {
  readonly sizes: readonly number[];
  readonly notifications: number;
  readonly fullEvaluations: number;
  readonly rows: number;
}

function argumentsOf(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '1000,10000,100000' },
      notifications: { type: 'string', default: '200' },
      'full-evaluations': { type: 'string', default: '50' },
      rows: { type: 'string', default: '5' },
    },
    strict: true,
  });
  const sizes = parseSizes(values.sizes);
  const notifications = Number(values.notifications);
  const fullEvaluations = Number(values['full-evaluations']);
  const rows = Number(values.rows);
  if (!Number.isInteger(notifications) || notifications < 10) throw new Error(`--notifications must be an integer ≥ 10, got ${values.notifications}`);
  if (!Number.isInteger(fullEvaluations) || fullEvaluations < 5) throw new Error(`--full-evaluations must be an integer ≥ 5, got ${values['full-evaluations']}`);
  if (!Number.isInteger(rows) || rows < 1 || rows > 1_000) throw new Error(`--rows must be an integer in 1..1000, got ${values.rows}`);
  return { sizes, notifications, fullEvaluations, rows };
}

let planted = 0;
const plantedRow = z.object({ usd_net: decimalColumn, received_at: z.date() });

/** Set-based: `count` more pending rows, as the router writes them, announced with the router's payload when `notify`. */
async function plant(pool: DatabasePool, count: number, notify: boolean): Promise<void> {
  const first = planted;
  planted += count;
  await pool.transaction(async (transaction) => {
    const rows = await transaction.any(sql.type(plantedRow)`
      INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent,
                                  usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net,
                                  paid_at, received_at, routed_at)
      SELECT 'bench-window-' || n, ${clientId}, '42', '7', 'pending_conversion', 3,
             g.usd, round(g.usd * 3 / 100, 8), g.usd - round(g.usd * 3 / 100, 8),
             g.eth, round(g.eth * 3 / 100, 18), g.eth - round(g.eth * 3 / 100, 18),
             now(), now(), now()
      FROM generate_series(${first}::int8, ${planted - 1}::int8) AS n,
           (SELECT ${usdGross}::numeric AS usd, ${ethGross}::numeric AS eth) AS g
      RETURNING usd_net, received_at`);
    if (!notify) return;
    const arrival = arrivalOf(rows.map((row) => ({ usdNet: row.usd_net, receivedAt: row.received_at })));
    if (arrival !== undefined) await transaction.query(sql.unsafe`SELECT pg_notify(${ledgerPendingChannel}, ${encodeLedgerPending(arrival)})`);
  });
}

async function pendingCount(pool: DatabasePool): Promise<number> {
  return Number(await pool.oneFirst(sql.unsafe`SELECT count(*)::int4 AS count FROM payment_ledger WHERE state = 'pending_conversion'`));
}

interface Row {
  readonly path: string;
  readonly pendingBefore: number;
  readonly checks: number;
  readonly outcomes: string;
  readonly latencies: readonly number[];
}

async function measureIncremental(pool: DatabasePool, databaseUrl: string, rules: ReturnType<typeof windowRulesOf>, options: BenchOptions): Promise<{ row: Row; rebuildMs: number }> {
  const now = (): Date => new Date();
  const window = createIncrementalWindow({ pool, rules, now, evaluate: createMicroBatchEvaluator({ pool, rules, now, newBatchId: randomUUID }) });
  let arrived: (() => void) | undefined;
  let connected: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const listener = startNotificationListener({
    databaseUrl,
    applicationName: 'bench-window',
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
    const pendingBefore = await pendingCount(pool);
    const rebuildStarted = performance.now();
    await window.check(); // the summary is unknown: one aggregate query rebuilds it
    const rebuildMs = performance.now() - rebuildStarted;
    const latencies: number[] = [];
    const outcomes = new Map<string, number>();
    for (let round = 0; round < options.notifications; round++) {
      const delivered = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      await plant(pool, options.rows, true);
      await delivered;
      const started = performance.now();
      const check = await window.check();
      latencies.push(performance.now() - started);
      const outcome = check.rebuilt ? `${check.kind}+rebuilt` : check.kind;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    return {
      row: { path: 'incremental check', pendingBefore, checks: latencies.length, outcomes: [...outcomes].map(([key, count]) => `${key} ${count}`).join(', '), latencies },
      rebuildMs,
    };
  } finally {
    await listener.stop();
  }
}

async function measureFull(pool: DatabasePool, rules: ReturnType<typeof windowRulesOf>, options: BenchOptions): Promise<Row> {
  const now = (): Date => new Date();
  const evaluate = createMicroBatchEvaluator({ pool, rules, now, newBatchId: randomUUID });
  const pendingBefore = await pendingCount(pool);
  const latencies: number[] = [];
  let batches = 0;
  for (let round = 0; round < options.fullEvaluations; round++) {
    await plant(pool, options.rows, false);
    const started = performance.now();
    const evaluation = await evaluate();
    latencies.push(performance.now() - started);
    batches += evaluation.batches.length;
  }
  if (batches > 0) throw new Error(`the window closed ${batches} batch(es): the planted rows must stay below the threshold`);
  return { path: 'full evaluation (before)', pendingBefore, checks: latencies.length, outcomes: 'no batch', latencies };
}

async function main(): Promise<void> {
  const options = argumentsOf(process.argv.slice(2));
  await withBenchStack({}, log, async (stack) => {
    const pool = await createDatabasePool(stack.endpoints.databaseUrl, { applicationName: 'bench-window-cost' });
    try {
      const rules = windowRulesOf(stack.config);
      // The ceiling: 100k rows of 0.5 USD (plus the rounds' own) stay below it.
      await pool.query(sql.unsafe`
        INSERT INTO pipeline_settings (setting, value, updated_at, change_id, changed_by)
        VALUES (${microBatchThresholdSetting}, ${rules.ceilingUsd.toFixed()}, now(), 'bench-window-cost', 'bench')
        ON CONFLICT (setting) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, change_id = EXCLUDED.change_id`);
      const { result: measured, baseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
        const rows: { size: number; rebuildMs: number; incremental: Row; full: Row }[] = [];
        for (const size of options.sizes) {
          const missing = size - (await pendingCount(pool));
          if (missing > 0) await plant(pool, missing, false);
          await pool.query(sql.unsafe`ANALYZE payment_ledger`);
          console.log(`${await pendingCount(pool)} pending: measuring …`);
          const { row: incremental, rebuildMs } = await measureIncremental(pool, stack.endpoints.databaseUrl, rules, options);
          const full = await measureFull(pool, rules, options);
          rows.push({ size, rebuildMs, incremental, full });
        }
        return rows;
      });

      printRunHeader(stack.mode, baseline.line);
      console.log('');
      const line = (size: number, row: Row): string[] => {
        const sorted = [...row.latencies].sort((left, right) => left - right);
        const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
        const perSecond = 1_000 / mean;
        return [
          `${size}`,
          row.path,
          String(row.pendingBefore),
          String(row.checks),
          mean.toFixed(3),
          nearestRank(sorted, 0.5).toFixed(3),
          nearestRank(sorted, 0.95).toFixed(3),
          nearestRank(sorted, 1).toFixed(3),
          perSecond.toFixed(0),
          (perSecond / baseline.recordsPerSecond).toFixed(5),
          row.outcomes,
        ];
      };
      console.log(
        formatTable(
          ['size', 'path', 'pending', 'checks', 'mean ms', 'p50 ms', 'p95 ms', 'max ms', 'checks/s', 'ratio', 'outcomes'],
          measured.flatMap((each) => [line(each.size, each.incremental), line(each.size, each.full)]),
        ),
      );
      console.log('');
      console.log(
        formatTable(
          ['size', 'summary rebuild (aggregate query, at start / reconnect / resync) ms', ''],
          measured.map((each) => [String(each.size), each.rebuildMs.toFixed(1), '']),
        ),
      );
      console.log('');
      console.log(
        `Per check: ${options.rows} new pending rows committed with the router's NOTIFY payload before each (not timed). ratio = checks/s ÷ ProducerPerformance records/s (same broker, same run).`,
      );
      console.log(
        `reproduce: npx tsx bench/window-cost.ts --sizes ${options.sizes.join(',')} --notifications ${options.notifications} --full-evaluations ${options.fullEvaluations} --rows ${options.rows}`,
      );
    } finally {
      await pool.end();
    }
  });
}

await runBenchmark(main);
