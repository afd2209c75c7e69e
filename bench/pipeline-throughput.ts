// Throughput of the pipeline's entry stages and of settlement's distribution on the real local stack, each reported as a ratio
// to a baseline measured in the same run (raw idempotent Kafka produce of already-encoded records),
// because absolute figures on a shared machine say little and ratios travel better.
//
//   npx tsx bench/pipeline-throughput.ts [--payments N] [--router-payments R]     (default N = 2000, R = N)
//
// Stages: (A) raw produce, measured before and after the others (the mean of the two medians of
// three rounds is the baseline);
// router: R payments already on payments-received, router started in-process, timed until all R
// ledger rows exist (R apart from N because the router takes 2,000 records a transaction: its
// steady rate needs many more payments than the webhook stage can post in reasonable time);
// webhook: N signed IPNs posted with a concurrency of 16, timed until all answered 202;
// settlement: N/20 conversion batches of 20 payments already swapping and their FINISHED swap
// events already on swap-events, settlement started in-process, timed until all N credits exist.
// The stack is started natively on free ports in .cache/bench-stack/<pid> unless KAFKA_BROKERS,
// SCHEMA_REGISTRY_URL and DATABASE_URL are all set, and removed at the end.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parse } from 'lossless-json';
import type { Config } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { createIdempotentProducer, createKafkaClient, type KafkaClient } from '../core/kafka/kafka-client.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { schemaRegistryAccessOf, createAvroSerde, createSchemaRegistryClient, type AvroSerde } from '../schemas/registry.ts';
import { topicNames } from '../topics/topics.ts';
import { routerConsumerGroup, startRouter } from '../processors/router/start-router.ts';
import { startWebhook } from '../processors/webhook/start-webhook.ts';
import { signIpn } from '../processors/webhook/ipn-signature.ts';
import { finishedIpn, ipnText, uniqueClientId, uniquePaymentId } from '../test/support/ipn.ts';
import { paymentReceivedRecord } from '../test/support/payment-record.ts';
import { plantConversionBatch, registerClient, swapEvent } from '../test/support/settlement-fixtures.ts';
import { settlementConsumerGroup, startSettlement } from '../processors/settlement/start-settlement.ts';
import { skipGroupToLatest } from '../test/support/consumer-groups.ts';
import { sql } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../db/pool.ts';
import { Decimal } from '../core/money.ts';
import { formatTable, machineLine, runBenchmark, secondsSince, withBenchStack } from './support/bench-stack.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { createIpnPoster } from './support/ipn-poster.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { positiveIntegerArgument } from './support/positive-integer-argument.ts';
import { localChangeNowApiKey } from '../connectors/changenow-simulator/local-api-key.ts';

const produceBatchSize = 100;
/** Payments per planted conversion batch in the settlement stage (each from another client). */
const settlementMembersPerBatch = 20;
const webhookConcurrency = 16;
const thresholdClientCount = 20;
const pollIntervalMs = 100;
const stageTimeoutMs = 10 * 60_000;
const ipnSecret = 'bench-ipn-secret-0123456789';
const xmrWallet = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';

const log = createLogger({ name: 'bench', level: 'silent' });

interface Measurement {
  readonly name: string;
  readonly count: number;
  readonly seconds: number;
  /** Not part of the baseline mean; shown for context. */
  readonly note?: string;
}

function argumentsOf(argv: readonly string[]): { payments: number; routerPayments: number } {
  const { values } = parseArgs({ args: [...argv], options: { payments: { type: 'string', default: '2000' }, 'router-payments': { type: 'string' } }, strict: true });
  const payments = positiveIntegerArgument('payments', values.payments);
  return { payments, routerPayments: values['router-payments'] === undefined ? payments : positiveIntegerArgument('router-payments', values['router-payments']) };
}


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** N already-encoded PaymentReceived records with fresh payment ids, keyed by client id. */
async function encodePayments(serde: AvroSerde, clientIds: readonly string[], count: number): Promise<{ ids: string[]; messages: { key: string; value: Buffer }[] }> {
  const ids: string[] = [];
  const messages: { key: string; value: Buffer }[] = [];
  for (let index = 0; index < count; index += 1) {
    const paymentId = uniquePaymentId();
    const clientId = clientIds[index % clientIds.length] ?? uniqueClientId();
    const value = await serde.encode(topicNames.paymentsReceived, 'payment-received', paymentReceivedRecord(paymentId, clientId));
    ids.push(paymentId);
    messages.push({ key: clientId, value });
  }
  return { ids, messages };
}

/** Sends the records with the project's idempotent producer, acks=-1, 100 per send. */
async function produceAll(kafka: KafkaClient, messages: readonly { key: string; value: Buffer }[], topic: string = topicNames.paymentsReceived): Promise<number> {
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    // Metadata and the producer id are fetched by the first send; keep that out of the timing.
    await producer.send({ topic, acks: -1, messages: [] });
    const start = process.hrtime.bigint();
    for (let offset = 0; offset < messages.length; offset += produceBatchSize) {
      await producer.send({ topic, acks: -1, messages: messages.slice(offset, offset + produceBatchSize) });
    }
    return secondsSince(start);
  } finally {
    await producer.disconnect();
  }
}

const baselineRounds = 3;

/** Raw produce of N records, repeated; the median round is reported (short rounds are noisy). */
async function rawProduce(kafka: KafkaClient, serde: AvroSerde, count: number, name: string): Promise<Measurement> {
  // Unregistered clients: these records are never read by the timed router (see moveRouterToEnd).
  const rounds: number[] = [];
  for (let round = 0; round < baselineRounds; round += 1) {
    const { messages } = await encodePayments(serde, [uniqueClientId()], count);
    rounds.push(await produceAll(kafka, messages));
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return { name, count, seconds: median, note: `median of ${baselineRounds}: ${rounds.map((s) => (count / s).toFixed(0)).join(', ')} /s` };
}

/**
 * Context, not the baseline: the same records sent one per send() with 16 sends in flight, as the
 * webhook does (one record per request, acks=-1, through the idempotent producer).
 */
async function singleRecordProduce(kafka: KafkaClient, serde: AvroSerde, count: number): Promise<Measurement> {
  const { messages } = await encodePayments(serde, [uniqueClientId()], count);
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    await producer.send({ topic: topicNames.paymentsReceived, acks: -1, messages: [] });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < messages.length) {
        const message = messages[next];
        next += 1;
        if (message !== undefined) await producer.send({ topic: topicNames.paymentsReceived, acks: -1, messages: [message] });
      }
    };
    const start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: webhookConcurrency }, worker));
    return { name: `raw produce, 1 per send (${webhookConcurrency} concurrent)`, count, seconds: secondsSince(start), note: 'context: the webhook\'s produce pattern' };
  } finally {
    await producer.disconnect();
  }
}

/**
 * The stage's clients are registered for it alone, so their rows are the stage's rows. Counted by
 * client, not by payment id: an array of every id, polled ten times a second in the router's own
 * process, cost the router and PostgreSQL a share of the CPU being measured.
 */
async function countLedgerRows(database: pg.Client, clientIds: readonly string[]): Promise<number> {
  const result = await database.query<{ count: string }>('SELECT count(*) AS count FROM payment_ledger WHERE client_id = ANY($1::text[])', [clientIds]);
  return Number(result.rows[0]?.count ?? 0);
}

async function routerThroughput(config: Config, endpoints: StackEndpoints, kafka: KafkaClient, serde: AvroSerde, count: number): Promise<Measurement[]> {
  const database = new pg.Client({ connectionString: endpoints.databaseUrl });
  await database.connect();
  try {
    // Threshold clients: each payment becomes a pending_conversion ledger row (decode, inbox
    // claim, fee, client lookup, ledger insert). The accumulator is not started, so nothing
    // converts them, and the micro-batch threshold is set out of reach in the config anyway.
    const clientIds = Array.from({ length: thresholdClientCount }, () => uniqueClientId());
    for (const clientId of clientIds) {
      await database.query(
        `INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
         VALUES ($1, 1, 'threshold', 50, $2, 'xmr', 'xmr')`,
        [clientId, xmrWallet],
      );
    }
    await skipGroupToLatest(endpoints, routerConsumerGroup, [topicNames.paymentsReceived]);
    const { ids, messages } = await encodePayments(serde, clientIds, count);
    await produceAll(kafka, messages);

    const start = process.hrtime.bigint();
    const router = await startRouter({ config, endpoints, port: 0, log });
    try {
      let firstRowSeconds: number | undefined;
      let firstRowCount = 0;
      for (;;) {
        const rows = await countLedgerRows(database, clientIds);
        if (rows > 0 && firstRowSeconds === undefined) {
          firstRowSeconds = secondsSince(start);
          firstRowCount = rows;
        }
        if (rows >= count) break;
        if (secondsSince(start) * 1000 > stageTimeoutMs) throw new Error(`router: only ${rows} of ${count} ledger rows after ${stageTimeoutMs} ms`);
        await sleep(pollIntervalMs);
      }
      const total = secondsSince(start);
      const states = await database.query<{ state: string; count: string }>(
        'SELECT state, count(*) AS count FROM payment_ledger WHERE payment_id = ANY($1::text[]) GROUP BY state',
        [ids],
      );
      const stateText = states.rows.map((row) => `${row.count} ${row.state}`).join(', ');
      const measurements: Measurement[] = [{ name: 'router (start → all rows)', count, seconds: total, note: stateText }];
      const steady = total - (firstRowSeconds ?? total);
      if (steady > 0 && count - firstRowCount > 0) {
        measurements.push({
          name: 'router (first → last row)',
          count: count - firstRowCount,
          seconds: steady,
          note: `start-up to first row ${(firstRowSeconds ?? 0).toFixed(2)} s`,
        });
      }
      return measurements;
    } finally {
      await router.stop();
    }
  } finally {
    await database.end();
  }
}

/**
 * Settlement's distribution: conversion batches of 20 payments already swapping, their FINISHED
 * swap events already on swap-events; settlement started in-process, timed until every payment has
 * its credit (decode, inbox claim, largest-remainder split, credits, ledger and batch updates,
 * CreditIssued records in the outbox). Thresholds are out of reach, so no payout forms.
 */
async function settlementThroughput(config: Config, endpoints: StackEndpoints, kafka: KafkaClient, serde: AvroSerde, count: number): Promise<Measurement> {
  const pool = await createDatabasePool(endpoints.databaseUrl);
  try {
    const clients = [];
    for (let index = 0; index < settlementMembersPerBatch; index += 1) clients.push(await registerClient(pool, { thresholdUsd: '100000' }));
    const batchCount = Math.max(1, Math.floor(count / settlementMembersPerBatch));
    const batchIds: string[] = [];
    const messages: { key: string; value: Buffer }[] = [];
    for (let batch = 0; batch < batchCount; batch += 1) {
      const planted = await plantConversionBatch(
        pool,
        clients.map((client, index) => ({ clientId: client.clientId, usdGross: `${10 + index}.${String(batch % 100).padStart(2, '0')}` })),
      );
      batchIds.push(planted.batchId);
      const event = swapEvent({
        command_id: planted.batchId,
        command_kind: 'CONVERSION',
        type: 'FINISHED',
        status: 'finished',
        amount_to: new Decimal('301.123457'),
        payin_hash: `0x${'1'.repeat(64)}`,
        payout_hash: `0x${'2'.repeat(64)}`,
      });
      messages.push({ key: planted.batchId, value: await serde.encode(topicNames.swapEvents, 'swap-event', event) });
    }
    await skipGroupToLatest(endpoints, settlementConsumerGroup, [topicNames.swapEvents]);
    await produceAll(kafka, messages, topicNames.swapEvents);
    const credits = batchCount * settlementMembersPerBatch;

    const start = process.hrtime.bigint();
    const settlement = await startSettlement({ config: { ...config, CHANGENOW_API_KEY: localChangeNowApiKey }, endpoints, port: 0, log });
    try {
      for (;;) {
        const done = await pool.oneFirst(sql.type(z.object({ count: z.number() }))`
          SELECT count(*)::int AS count FROM usdt_credits WHERE conversion_batch_id = ANY(${sql.array(batchIds, 'text')})`);
        if (done >= credits) break;
        if (secondsSince(start) * 1000 > stageTimeoutMs) throw new Error(`settlement: only ${done} of ${credits} credits after ${stageTimeoutMs} ms`);
        await sleep(pollIntervalMs);
      }
      return { name: 'settlement distribution (start → all credits)', count: credits, seconds: secondsSince(start), note: `${batchCount} conversions of ${settlementMembersPerBatch} payments` };
    } finally {
      await settlement.stop();
    }
  } finally {
    await pool.end();
  }
}

async function webhookThroughput(config: Config, endpoints: StackEndpoints, count: number): Promise<Measurement> {
  // Bodies and signatures are made before the clock starts: the client shares the CPU with the server.
  const requests = Array.from({ length: count }, () => {
    const text = ipnText(finishedIpn());
    return { text, signature: signIpn(parse(text), ipnSecret) };
  });
  const webhook = await startWebhook({ config, endpoints, port: 0, log });
  const poster = createIpnPoster(`${webhook.url}/webhooks/nowpayments`, webhookConcurrency);
  try {
    // One request before the clock: first connections to the pool and the producer.
    const warmText = ipnText(finishedIpn());
    const warmResponse = await poster.post({ text: warmText, signature: signIpn(parse(warmText), ipnSecret) });
    if (warmResponse.status !== 202) throw new Error(`webhook warm-up answered ${warmResponse.status}: ${warmResponse.body}`);

    let next = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const request = requests[next];
        next += 1;
        if (request === undefined) continue;
        const { status, body } = await poster.post(request);
        if (status !== 202) failures.push(`${status} ${body.slice(0, 200)}`);
      }
    };
    const start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: webhookConcurrency }, worker));
    const seconds = secondsSince(start);
    if (failures.length > 0) throw new Error(`webhook: ${failures.length} of ${count} not answered 202, first: ${failures[0] ?? ''}`);
    return { name: `webhook (${webhookConcurrency} concurrent)`, count, seconds };
  } finally {
    poster.close();
    await webhook.stop();
  }
}

function measurementTable(measurements: readonly Measurement[], baselinePerSecond: number, producerPerformancePerSecond: number): string {
  return formatTable(
    ['stage', 'count', 'seconds', 'per second', 'ratio', 'vs ProducerPerformance', 'note'],
    measurements.map((m) => {
      const perSecond = m.count / m.seconds;
      return [m.name, String(m.count), m.seconds.toFixed(2), perSecond.toFixed(0), (perSecond / baselinePerSecond).toFixed(3), (perSecond / producerPerformancePerSecond).toFixed(3), m.note ?? ''];
    }),
  );
}

async function main(): Promise<void> {
  const { payments, routerPayments } = argumentsOf(process.argv.slice(2));
  await withBenchStack({ NOWPAYMENTS_IPN_SECRET: ipnSecret, MICRO_BATCH_THRESHOLD_USD: '100000' }, log, async ({ config, endpoints, mode }) => {
    console.log(`${payments} payments per stage, ${routerPayments} in the router's`);
    const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'bench', log, requestTimeoutMs: 30_000 });
    const serde = createAvroSerde(createSchemaRegistryClient(schemaRegistryAccessOf(endpoints)));

    // Warm-up (JIT, connections, registry cache), not reported.
    for (let round = 0; round < 3; round += 1) await produceAll(kafka, (await encodePayments(serde, [uniqueClientId()], payments)).messages);
    // Kafka's own ProducerPerformance around everything, as in every other benchmark, so the
    // router's figure compares with theirs (issue 11: the router alone at ≥ 30 % of it).
    const { result, baseline: producerPerformance } = await aroundBaseline({ brokers: endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
      const baselineBefore = await rawProduce(kafka, serde, payments, 'raw produce (A, before)');
      const router = await routerThroughput(config, endpoints, kafka, serde, routerPayments);
      const webhook = await webhookThroughput(config, endpoints, payments);
      const settlement = await settlementThroughput(config, endpoints, kafka, serde, payments);
      const single = await singleRecordProduce(kafka, serde, payments);
      const baselineAfter = await rawProduce(kafka, serde, payments, 'raw produce (A, after)');
      return { baselineBefore, router, webhook, settlement, single, baselineAfter };
    });
    const { baselineBefore, router, webhook, settlement, single, baselineAfter } = result;

    const baselinePerSecond = (baselineBefore.count / baselineBefore.seconds + baselineAfter.count / baselineAfter.seconds) / 2;
    const spread = Math.abs(baselineBefore.count / baselineBefore.seconds - baselineAfter.count / baselineAfter.seconds) / baselinePerSecond;
    console.log('');
    console.log(machineLine(mode));
    console.log(`baseline: raw produce (100 per send, acks=-1), mean of the before/after medians = ${baselinePerSecond.toFixed(0)} records/s (before/after differ by ${(spread * 100).toFixed(0)} %)`);
    console.log(producerPerformance.line);
    console.log('');
    console.log(measurementTable([baselineBefore, baselineAfter, ...router, webhook, settlement, single], baselinePerSecond, producerPerformance.recordsPerSecond));
    console.log('');
    console.log('ratio = per second ÷ baseline per second (same run); > 1 is faster than raw produce. vs ProducerPerformance = per second ÷ Kafka ProducerPerformance records/s (same broker, same run).');
    console.log(`reproduce: npx tsx bench/pipeline-throughput.ts --payments ${payments} --router-payments ${routerPayments}`);
  });
}

await runBenchmark(main);
