// Mass payout: N threshold clients whose payouts become due at once, carried to the end through
// settlement, the ChangeNow connector against the simulator and the chain connector on the local
// EVM — every one a `cli run` process, as in production.
//
//   npx tsx bench/mass-payout.ts [--clients 1000] [--rates 100,10] [--concurrency 32] [--timeout-minutes 30]
//
// --concurrency is SWAP_CONCURRENCY for every round: 32 keeps the raised budget (100/s) busy, where
// the default 8 left creates queued behind the worker (stage 2); at 10/s the budget paces either.
//
// One round per ChangeNow rate limit (CHANGENOW_RATE_LIMIT_PER_SECOND, the one budget every process
// shares; the simulator itself has no limit): N clients (threshold 100 USD, paid in XMR, so the
// simulator "sends" XMR off-chain) and one conversion of N payments of 110 USD gross are planted the
// way settlement's tests plant them; the host wallet gets the USDT; then the conversion's FINISHED
// swap event is produced. Settlement credits every client past its threshold and emits N
// PayoutRequested commands (one payout batch each); the ChangeNow connector creates an exchange
// per command, the chain connector pays each in with a USDT transfer, the simulator converts and
// finishes, and settlement marks the batch finished. Measured: from the first command emitted
// (payout_batches.created_at) to the last batch finished (completed_at), and per batch from its
// command to its end; then where a batch's time went, stage by stage (medians and maxima), which
// names the next limit. The baseline is Kafka's ProducerPerformance on the same broker in the same
// run; ratio = payouts finished/s ÷ its records/s.
import { parseArgs } from 'node:util';
import { Contract, Wallet } from 'ethers';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createLogger } from '../core/logger.ts';
import { Decimal, toBaseUnits } from '../core/money.ts';
import { createDatabasePool } from '../db/pool.ts';
import { localChangeNowApiKey } from '../connectors/changenow-simulator/local-api-key.ts';
import { createEvmProvider } from '../stack/evm/evm-provider.ts';
import { erc20Abi } from '../stack/evm/local-usdt-artifact.ts';
import { localExchangeWallet, localHostWallet } from '../stack/evm/local-wallets.ts';
import { openTopicProducer } from '../test/support/topic-producer.ts';
import { uniqueClientId } from '../test/support/ipn.ts';
import { plantConversionBatch, produceSwapEvent, swapEvent, xmrWalletA } from '../test/support/settlement-fixtures.ts';
import { startBenchProcess, type BenchProcess } from './support/bench-process.ts';
import { formatTable, runBenchmark, secondsSince, withBenchStack, type BenchStack, printRunHeader } from './support/bench-stack.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { positiveIntegerArgument } from './support/positive-integer-argument.ts';

const log = createLogger({ name: 'bench', level: 'silent' });
const usdGrossPerClient = '110';
/** What one client's credit is after the router's 3 % fee, the conversion passing USD 1:1. */
const usdtPerClient = new Decimal(usdGrossPerClient).times('0.97');

function argumentsOf(argv: readonly string[]): { clients: number; rates: number[]; concurrency: number; timeoutMinutes: number } {
  const { values } = parseArgs({
    args: [...argv],
    options: { clients: { type: 'string', default: '1000' }, rates: { type: 'string', default: '100,10' }, concurrency: { type: 'string', default: '32' }, 'timeout-minutes': { type: 'string', default: '30' } },
    strict: true,
  });
  const clients = positiveIntegerArgument('clients', values.clients);
  const rates = values.rates.split(',').map(Number);
  const concurrency = Number(values.concurrency);
  if (rates.some((rate) => !Number.isInteger(rate) || rate < 1 || rate > 1_000)) throw new Error(`--rates must be integers 1..1000, got ${values.rates}`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new Error(`--concurrency must be 1..64, got ${values.concurrency}`);
  // A round not finished by then is reported as it stands (the table shows how many finished).
  const timeoutMinutes = Number(values['timeout-minutes']);
  if (!Number.isFinite(timeoutMinutes) || timeoutMinutes <= 0) throw new Error(`--timeout-minutes must be positive, got ${values['timeout-minutes']}`);
  return { clients, rates, concurrency, timeoutMinutes };
}

interface RoundResult {
  readonly rate: number;
  readonly clients: number;
  readonly finished: number;
  readonly failed: number;
  readonly emitSeconds: number;
  readonly allPaidSeconds: number;
  readonly perBatch: { p50: number; p99: number; max: number };
  readonly stages: readonly { name: string; p50: number; max: number }[];
  /** ChangeNow API attempts of the connector in the round, by endpoint: what the rate budget was spent on. */
  readonly requests: ReadonlyMap<string, number>;
}

/**
 * The connector's `changenow_requests_total` summed over outcomes, per endpoint, read from its
 * /metrics before it stops: a count, not a timing, so it holds on a busy machine.
 */
async function changeNowRequestsOf(connector: BenchProcess): Promise<ReadonlyMap<string, number>> {
  const text = await (await fetch(`${connector.url}/metrics`)).text();
  const byEndpoint = new Map<string, number>();
  for (const match of text.matchAll(/^changenow_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const endpoint = /endpoint="([^"]*)"/.exec(match[1] ?? '')?.[1] ?? 'unknown';
    byEndpoint.set(endpoint, (byEndpoint.get(endpoint) ?? 0) + Number(match[2]));
  }
  return byEndpoint;
}

const summaryRow = z.object({
  total: z.number(),
  finished: z.number(),
  failed: z.number(),
  emit_seconds: z.number().nullable(),
  all_paid_seconds: z.number().nullable(),
  p50: z.number().nullable(),
  p99: z.number().nullable(),
  max: z.number().nullable(),
});

async function summaryOf(database: DatabasePool, clientIds: readonly string[]): Promise<z.infer<typeof summaryRow>> {
  return database.one(sql.type(summaryRow)`
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE state = 'finished')::int AS finished,
           count(*) FILTER (WHERE state = 'failed')::int AS failed,
           extract(epoch FROM max(created_at) - min(created_at))::float8 AS emit_seconds,
           extract(epoch FROM max(coalesce(completed_at, failed_at)) - min(created_at))::float8 AS all_paid_seconds,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))::float8 AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))::float8 AS p99,
           max(extract(epoch FROM completed_at - created_at))::float8 AS max
    FROM payout_batches WHERE client_id = ANY(${sql.array(clientIds, 'text')}::text[])`);
}

const stageRow = z.object({ name: z.string(), p50: z.number().nullable(), max: z.number().nullable() });

/** Where each batch's time went, from its command to its end, stage by stage. */
async function stagesOf(database: DatabasePool, clientIds: readonly string[]): Promise<readonly { name: string; p50: number; max: number }[]> {
  const rows = await database.any(sql.type(stageRow)`
    WITH batch AS (
      SELECT b.created_at AS emitted, s.created_at AS stored, s.create_started_at AS creating, t.received_at AS transfer_received,
             t.broadcast_at AS broadcast, s.ended_at AS swap_ended, b.completed_at AS completed
      FROM payout_batches b
      JOIN swap_commands s ON s.command_id = b.batch_id
      LEFT JOIN chain_transfers t ON t.transfer_id = s.transfer_id
      WHERE b.client_id = ANY(${sql.array(clientIds, 'text')}::text[]) AND b.state = 'finished'),
    stage (name, seconds) AS (
      SELECT '1 command emitted → stored by the ChangeNow connector', extract(epoch FROM stored - emitted) FROM batch
      UNION ALL SELECT '2 stored → create call started (worker queue, rate budget)', extract(epoch FROM creating - stored) FROM batch
      UNION ALL SELECT '3 create started → pay-in received by the chain connector', extract(epoch FROM transfer_received - creating) FROM batch
      UNION ALL SELECT '4 pay-in received → broadcast (chain connector queue)', extract(epoch FROM broadcast - transfer_received) FROM batch
      UNION ALL SELECT '5 broadcast → exchange finished (confirmations, simulator, polls)', extract(epoch FROM swap_ended - broadcast) FROM batch
      UNION ALL SELECT '6 exchange finished → payout batch finished (settlement)', extract(epoch FROM completed - swap_ended) FROM batch)
    SELECT name, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::float8 AS p50, max(seconds)::float8 AS max
    FROM stage GROUP BY name ORDER BY name`);
  return rows.map((row) => ({ name: row.name, p50: row.p50 ?? Number.NaN, max: row.max ?? Number.NaN }));
}

/** N threshold clients, registered as the admin API stores them, in one statement. */
async function registerClients(database: DatabasePool, count: number): Promise<string[]> {
  const clientIds = Array.from({ length: count }, () => uniqueClientId());
  await database.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    SELECT id, 1, 'threshold', 100, ${xmrWalletA}, 'xmr', 'xmr' FROM unnest(${sql.array(clientIds, 'text')}::text[]) AS id`);
  return clientIds;
}

/** The host wallet pays every pay-in in USDT: it gets them from the simulator's wallet (minted at start). */
async function fundHostWallet(stack: BenchStack, usdt: Decimal): Promise<void> {
  const provider = createEvmProvider(stack.endpoints.evmRpcUrl);
  try {
    const contract = new Contract(stack.endpoints.usdtContractAddress, erc20Abi, new Wallet(localExchangeWallet.privateKey, provider));
    const response: unknown = await contract.getFunction('transfer').send(localHostWallet.address, toBaseUnits(usdt, 6));
    if (typeof response !== 'object' || response === null || !('wait' in response) || typeof response.wait !== 'function') throw new Error('no transaction response');
    await (response.wait as () => Promise<unknown>)();
  } finally {
    provider.destroy();
  }
}

async function runRound(stack: BenchStack, database: DatabasePool, clients: number, rate: number, concurrency: number, roundTimeoutMs: number): Promise<RoundResult> {
  const environment = { CHANGENOW_RATE_LIMIT_PER_SECOND: String(rate), SWAP_CONCURRENCY: String(concurrency) };
  const clientIds = await registerClients(database, clients);
  const { batchId } = await plantConversionBatch(
    database,
    clientIds.map((clientId) => ({ clientId, usdGross: usdGrossPerClient })),
  );
  await fundHostWallet(stack, usdtPerClient.times(clients).plus(1));
  const processes: BenchProcess[] = [];
  try {
    // BENCH_CHAIN_LOG_LEVEL=info logs the chain connector's per-pass profile ('chain pass': time per
    // phase and per node call), which says where stage 4 goes; the default keeps it quiet.
    const chainLogLevel = process.env['BENCH_CHAIN_LOG_LEVEL'];
    processes.push(await startBenchProcess(stack, 'chain', 'CHAIN_CONNECTOR_PORT', { ...environment, ...(chainLogLevel === undefined || chainLogLevel === '' ? {} : { LOG_LEVEL: chainLogLevel }) }));
    const changenow = await startBenchProcess(stack, 'changenow', 'CHANGENOW_CONNECTOR_PORT', environment);
    processes.push(changenow);
    processes.push(await startBenchProcess(stack, 'settlement', 'SETTLEMENT_PORT', environment));
    const producer = await openTopicProducer(stack.endpoints);
    try {
      await produceSwapEvent(
        producer,
        swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: `bench-${batchId}`, status: 'finished', amount_to: usdtPerClient.times(clients), payout_hash: `0x${'b'.repeat(64)}` }),
      );
    } finally {
      await producer.close();
    }
    console.log(`rate ${rate}/s: conversion FINISHED produced; waiting for ${clients} payout batches to end …`);
    const started = process.hrtime.bigint();
    let summary = await summaryOf(database, clientIds);
    let reported = 0;
    while (summary.finished + summary.failed < clients && secondsSince(started) * 1_000 < roundTimeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      summary = await summaryOf(database, clientIds);
      if (secondsSince(started) - reported >= 30) {
        reported = secondsSince(started);
        console.log(`  ${reported.toFixed(0)} s: ${summary.total} batches, ${summary.finished} finished, ${summary.failed} failed`);
      }
    }
    return {
      rate,
      clients,
      finished: summary.finished,
      failed: summary.failed,
      emitSeconds: summary.emit_seconds ?? Number.NaN,
      allPaidSeconds: summary.all_paid_seconds ?? Number.NaN,
      perBatch: { p50: summary.p50 ?? Number.NaN, p99: summary.p99 ?? Number.NaN, max: summary.max ?? Number.NaN },
      stages: await stagesOf(database, clientIds),
      requests: await changeNowRequestsOf(changenow),
    };
  } finally {
    for (const running of processes.reverse()) await running.stop();
  }
}

async function main(): Promise<void> {
  const { clients, rates, concurrency, timeoutMinutes } = argumentsOf(process.argv.slice(2));
  // The local chain's host wallet and the simulator's development key, as the tests run the processes.
  await withBenchStack({ HOST_WALLET_PRIVATE_KEY: localHostWallet.privateKey, CHANGENOW_API_KEY: localChangeNowApiKey }, log, async (stack) => {
    const database = await createDatabasePool(stack.endpoints.databaseUrl, { applicationName: 'bench-mass-payout' });
    try {
      const { result: rounds, baseline: measuredBaseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
        const results: RoundResult[] = [];
        for (const rate of rates) results.push(await runRound(stack, database, clients, rate, concurrency, timeoutMinutes * 60_000));
        return results;
      });
      const baseline = measuredBaseline.recordsPerSecond;

      printRunHeader(stack.mode, measuredBaseline.line);
      console.log('');
      console.log(
        formatTable(
          ['ChangeNow rate/s', 'payouts', 'finished', 'failed', 'emitted over s', 'all paid s', 'paid/s', 'ratio', 'per batch p50 s', 'p99 s', 'max s'],
          rounds.map((round) => [
            String(round.rate),
            String(round.clients),
            String(round.finished),
            String(round.failed),
            round.emitSeconds.toFixed(1),
            round.allPaidSeconds.toFixed(1),
            (round.finished / round.allPaidSeconds).toFixed(2),
            (round.finished / round.allPaidSeconds / baseline).toFixed(6),
            round.perBatch.p50.toFixed(1),
            round.perBatch.p99.toFixed(1),
            round.perBatch.max.toFixed(1),
          ]),
        ),
      );
      for (const round of rounds) {
        console.log('');
        console.log(`where a batch's time went at ${round.rate}/s (finished batches):`);
        console.log(formatTable(['stage', 'p50 s', 'max s'], round.stages.map((stage) => [stage.name, stage.p50.toFixed(1), stage.max.toFixed(1)]).map(([name, p50, max]) => [name ?? '', p50 ?? '', max ?? ''])));
        const total = [...round.requests.values()].reduce((sum, count) => sum + count, 0);
        console.log(`ChangeNow requests at ${round.rate}/s: ${total} (${(total / round.clients).toFixed(2)} per payout) — ${[...round.requests].map(([endpoint, count]) => `${endpoint} ${count}`).join(', ')}`);
      }
      console.log('');
      console.log('all paid = first command emitted (payout_batches.created_at) → last batch finished (completed_at); per batch = its command → its end.');
      console.log('ratio = payouts finished/s ÷ ProducerPerformance records/s (same broker, same run).');
      console.log(`reproduce: npx tsx bench/mass-payout.ts --clients ${clients} --rates ${rates.join(',')} --concurrency ${concurrency} --timeout-minutes ${timeoutMinutes}`);
    } finally {
      await database.end();
    }
  });
}

await runBenchmark(main);
