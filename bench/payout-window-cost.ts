// The cost of one evaluation of settlement's per-client payout window, per notification-like round,
// as what is unpaid grows: createPayoutWindowEvaluator (payout-window-evaluation.ts: the bounded read
// of group totals, the due groups' credits and quotes, then the advisory lock, the totals read
// again, the decision, the batches, retries, holds and operator requests written) at 1k, 10k and
// 100k free unpaid credits spread over many clients, every group below its threshold.
//
//   npx tsx bench/payout-window-cost.ts [--sizes 1000,10000,100000] [--evaluations 50] [--credits 5] [--credits-per-group 10] [--due 3]
//
// Planting is set-based SQL, as settlement's distribution leaves it: one conversion batch per
// planting, its members' ledger rows, one credit of 1 USDT each, credited now (PAYOUT_MAX_AGE is
// far). The planted credits fill groups of --credits-per-group (one client each, xmr, threshold
// 1,000,000 USD), so 1k credits are 100 groups, 100k are 10,000 groups, more than the
// PAYOUT_WINDOW_GROUPS_MAX one evaluation reads. Then, per size, two cases:
// - nothing due: each round commits --credits new credits of 1 USDT into existing groups (spread
//   over them, as a chunk of distributions would be), then times one evaluation;
// - a few due: each round commits --due new groups of one 200 USDT credit with a 100 USD threshold
//   (xmr, quoted by the stack's ChangeNow simulator), then times one evaluation, which must pay each
//   of them (a batch per group). The first round fetches the quotes; the cache answers the rest.
// Committing the credits is never inside the timing. The baseline is Kafka's own ProducerPerformance
// on the same broker in the same run, with records of a PaymentReceived's size; the ratio is
// evaluations/s ÷ its records/s.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sql, type DatabasePool, type FragmentSqlToken } from 'slonik';
import { createLogger } from '../core/logger.ts';
import { createMetricsRegistry } from '../core/metrics.ts';
import { createChangeNowClient } from '../connectors/changenow/changenow-client.ts';
import { localChangeNowApiKey } from '../connectors/changenow-simulator/local-api-key.ts';
import { createEvmRpc } from '../connectors/chain/evm-rpc.ts';
import { gweiToWei } from '../connectors/chain/chain-settings.ts';
import { createDatabasePool } from '../db/pool.ts';
import { createPayoutWindowEvaluator, type PayoutWindowEvaluation, type PayoutWindowEvaluator } from '../processors/settlement/payout-window-evaluation.ts';
import { createQuoteCache } from '../processors/settlement/payout-quotes.ts';
import { createTransferFeeSource } from '../processors/settlement/transfer-fee-source.ts';
import { payoutWindowRulesOf } from '../processors/settlement/start-settlement.ts';
import { formatTable, runBenchmark, withBenchStack, printRunHeader, type BenchStack } from './support/bench-stack.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';

const log = createLogger({ name: 'bench', level: 'silent' });
// A valid xmr address (the simulator checks the payout address of an exchange it creates, not of a quote).
const xmrWallet = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
/** Client ids: '-1009' + 10 digits for the undue groups, '-1008' + 10 digits for the due ones (14 digits, as clients.client_id allows). */
const undueClientPrefix = '-1009';
const dueClientPrefix = '-1008';

interface BenchOptions {
  readonly sizes: readonly number[];
  readonly evaluations: number;
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
      credits: { type: 'string', default: '5' },
      'credits-per-group': { type: 'string', default: '10' },
      due: { type: 'string', default: '3' },
    },
    strict: true,
  });
  const sizes = values.sizes.split(',').map(Number);
  const integer = (name: string, text: string, min: number, max: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${text}`);
    return value;
  };
  if (sizes.some((size) => !Number.isInteger(size) || size < 1) || sizes.some((size, index) => index > 0 && size <= (sizes[index - 1] ?? 0))) {
    throw new Error(`--sizes must be increasing positive integers, got ${values.sizes}`);
  }
  return {
    sizes,
    evaluations: integer('evaluations', values.evaluations, 5, 10_000),
    credits: integer('credits', values.credits, 1, 1_000),
    creditsPerGroup: integer('credits-per-group', values['credits-per-group'], 1, 10_000),
    due: integer('due', values.due, 1, 100),
  };
}

let planted = 0;
let dueGroups = 0;

/**
 * Set-based: `count` more credits of `usdt` USDT each, in one transaction, with the conversion batch
 * and swapping ledger rows a distribution leaves behind. `clientIndex` maps the credit's number n
 * (an SQL expression over n) to its client's index; the clients exist already.
 */
async function plantCredits(pool: DatabasePool, count: number, usdt: string, clientOf: FragmentSqlToken): Promise<void> {
  const first = planted;
  planted += count;
  const batchId = `bench-payout-window-${first}`;
  await pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`
      INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
      VALUES (${batchId}, 'swapping', 'threshold', ${count}, ${count}, ${count}, 1, now())`);
    await transaction.query(sql.unsafe`
      INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent, usd_gross, platform_fee_usd, usd_net,
                                  eth_gross, platform_fee_eth, eth_net, conversion_batch_id, paid_at, received_at)
      SELECT 'bench-payout-window-' || n, ${clientOf}, '1', '1', 'swapping', 0, ${usdt}::numeric, 0, ${usdt}::numeric, 0.001, 0, 0.001, ${batchId}, now(), now()
      FROM generate_series(${first}::int8, ${planted - 1}::int8) AS n`);
    await transaction.query(sql.unsafe`
      INSERT INTO usdt_credits (credit_id, client_id, payment_id, conversion_batch_id, usdt_amount, exact_share, rounding_applied,
                                wallet_address, payout_currency, payout_network, credited_at)
      SELECT 'credit-' || l.payment_id, l.client_id, l.payment_id, ${batchId}, l.usd_net, (l.usd_net * 1000000)::int8 || '/1', 0, ${xmrWallet}, 'xmr', 'xmr', now()
      FROM payment_ledger l WHERE l.conversion_batch_id = ${batchId}`);
  });
}

function clientIdSql(prefix: string, index: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`${prefix} || lpad((${index})::text, 10, '0')`;
}

async function undueGroupCount(pool: DatabasePool): Promise<number> {
  return Number(await pool.oneFirst(sql.unsafe`SELECT count(*)::int4 FROM clients WHERE client_id LIKE ${`${undueClientPrefix}%`}`));
}

/** Credits up to `size`, in groups of creditsPerGroup (new clients as needed), all far below their threshold. */
async function plantUndueUpTo(pool: DatabasePool, size: number, creditsPerGroup: number): Promise<void> {
  const missing = size - (await freeCreditCount(pool));
  if (missing <= 0) return;
  const groupsFrom = await undueGroupCount(pool);
  const groups = Math.ceil(missing / creditsPerGroup);
  await pool.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    SELECT ${clientIdSql(undueClientPrefix, sql.fragment`g`)}, 1, 'threshold', 1000000, ${xmrWallet}, 'xmr', 'xmr'
    FROM generate_series(${groupsFrom}::int8, ${groupsFrom + groups - 1}::int8) AS g`);
  const first = planted;
  await plantCredits(pool, missing, '1', clientIdSql(undueClientPrefix, sql.fragment`${groupsFrom}::int8 + (n - ${first}::int8) / ${creditsPerGroup}::int8`));
}

async function freeCreditCount(pool: DatabasePool): Promise<number> {
  return Number(await pool.oneFirst(sql.unsafe`SELECT count(*)::int4 FROM usdt_credits WHERE paid_out_at IS NULL AND payout_batch_id IS NULL`));
}

interface Row {
  readonly size: number;
  readonly path: string;
  readonly pendingBefore: number;
  readonly groupsBefore: number;
  readonly latencies: readonly number[];
  readonly outcomes: string;
}

function rank(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN;
}

function outcomeOf(evaluation: PayoutWindowEvaluation): string {
  const held = evaluation.decisions.filter((decision) => decision.hold !== null).length;
  const waiting = evaluation.decisions.filter((decision) => decision.needs.length > 0).length;
  return `${evaluation.created.length} batch(es)${held > 0 ? `, ${held} held` : ''}${waiting > 0 ? `, ${waiting} waiting for quotes` : ''}`;
}

async function measureUndue(pool: DatabasePool, evaluate: PayoutWindowEvaluator, size: number, options: BenchOptions): Promise<Row> {
  const pendingBefore = await freeCreditCount(pool);
  const groups = await undueGroupCount(pool);
  const latencies: number[] = [];
  const outcomes = new Map<string, number>();
  for (let round = 0; round < options.evaluations; round++) {
    const first = planted;
    // Spread over the existing groups, a prime stride apart, as a chunk's distributions would be.
    await plantCredits(pool, options.credits, '1', clientIdSql(undueClientPrefix, sql.fragment`((n - ${first}::int8) * 7919 + ${round * 104_729}::int8) % ${groups}::int8`));
    const started = performance.now();
    const evaluation = await evaluate();
    latencies.push(performance.now() - started);
    if (evaluation.created.length > 0) throw new Error(`the window formed ${evaluation.created.length} batch(es): the planted groups must stay below their thresholds`);
    const outcome = `${evaluation.decisions.length} groups decided`;
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  return { size, path: 'nothing due', pendingBefore, groupsBefore: groups, latencies, outcomes: [...outcomes].map(([key, count]) => `${key} ×${count}`).join(', ') };
}

async function measureDue(pool: DatabasePool, evaluate: PayoutWindowEvaluator, size: number, options: BenchOptions): Promise<Row> {
  const pendingBefore = await freeCreditCount(pool);
  const groups = await undueGroupCount(pool);
  const latencies: number[] = [];
  const outcomes = new Map<string, number>();
  for (let round = 0; round < options.evaluations; round++) {
    const from = dueGroups;
    dueGroups += options.due;
    await pool.query(sql.unsafe`
      INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
      SELECT ${clientIdSql(dueClientPrefix, sql.fragment`g`)}, 1, 'threshold', 100, ${xmrWallet}, 'xmr', 'xmr'
      FROM generate_series(${from}::int8, ${dueGroups - 1}::int8) AS g`);
    const first = planted;
    await plantCredits(pool, options.due, '200', clientIdSql(dueClientPrefix, sql.fragment`${from}::int8 + n - ${first}::int8`));
    const started = performance.now();
    const evaluation = await evaluate();
    latencies.push(performance.now() - started);
    const outcome = outcomeOf(evaluation);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  return { size, path: `${options.due} groups due`, pendingBefore, groupsBefore: groups, latencies, outcomes: [...outcomes].map(([key, count]) => `${key} ×${count}`).join(', ') };
}

function createEvaluator(stack: BenchStack, pool: DatabasePool): PayoutWindowEvaluator {
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
  return createPayoutWindowEvaluator({
    pool,
    rules: payoutWindowRulesOf(config),
    quotes,
    now,
    newBatchId: randomUUID,
    log,
    groupsPerEvaluationMax: config.PAYOUT_WINDOW_GROUPS_MAX,
  });
}

async function main(): Promise<void> {
  const options = argumentsOf(process.argv.slice(2));
  await withBenchStack({}, log, async (stack) => {
    const pool = await createDatabasePool(stack.endpoints.databaseUrl, { applicationName: 'bench-payout-window-cost' });
    try {
      const { result: measured, baseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
        const rows: Row[] = [];
        for (const size of options.sizes) {
          await plantUndueUpTo(pool, size, options.creditsPerGroup);
          await pool.query(sql.unsafe`ANALYZE usdt_credits`);
          await pool.query(sql.unsafe`ANALYZE clients`);
          console.log(`${await freeCreditCount(pool)} free credits in ${await undueGroupCount(pool)} groups: measuring …`);
          // A new evaluator per size: its page cursor starts at the first group, as after a start.
          rows.push(await measureUndue(pool, createEvaluator(stack, pool), size, options));
          rows.push(await measureDue(pool, createEvaluator(stack, pool), size, options));
        }
        return rows;
      });

      printRunHeader(stack.mode, baseline.line);
      console.log(`PAYOUT_WINDOW_GROUPS_MAX ${stack.config.PAYOUT_WINDOW_GROUPS_MAX}`);
      console.log('');
      console.log(
        formatTable(
          ['size', 'case', 'free credits', 'groups', 'evaluations', 'mean ms', 'p50 ms', 'p95 ms', 'max ms', 'evaluations/s', 'ratio', 'outcomes'],
          measured.map((row) => {
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
              rank(sorted, 0.5).toFixed(3),
              rank(sorted, 0.95).toFixed(3),
              rank(sorted, 1).toFixed(3),
              perSecond.toFixed(1),
              (perSecond / baseline.recordsPerSecond).toFixed(6),
              row.outcomes,
            ];
          }),
        ),
      );
      console.log('');
      console.log(
        `Per evaluation: ${options.credits} new credits (nothing due) or ${options.due} new due groups committed before it (not timed). ratio = evaluations/s ÷ ProducerPerformance records/s (same broker, same run).`,
      );
      console.log(
        `reproduce: npx tsx bench/payout-window-cost.ts --sizes ${options.sizes.join(',')} --evaluations ${options.evaluations} --credits ${options.credits} --credits-per-group ${options.creditsPerGroup} --due ${options.due}`,
      );
    } finally {
      await pool.end();
    }
  });
}

await runBenchmark(main);
