// Proves that a record PostgreSQL refuses no longer wedges its partition, on the real broker and
// database with two real processors: poison records planted among good ones on payments-received
// (a paid_at before PostgreSQL's first year, consumed by the router) and on swap-events (an ETH
// amount the conversion_batches check refuses, consumed by settlement) are dead-lettered once each
// with their reason, the good records around them are applied once, the consumer groups' committed
// offsets pass the poison, the processors stay ready, count it and raise an alert; and `replay`
// brings a poison record back to a consumer whose inbox does not drop it.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig, type Config } from '../config.ts';
import { Decimal } from '../money.ts';
import { correlationIdHeader, createIdempotentProducer, createKafkaClient, headerText, type Producer } from '../kafka/kafka-client.ts';
import type { RunningConsumerProcess } from './consumer-process.ts';
import { createAvroSerde, createSchemaRegistryClient, type AvroSerde } from '../../schemas/registry.ts';
import type { PaymentReceived, SwapEvent } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, topicNames, type ValueSchemaName } from '../../topics/topics.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { findViolations } from '../../db/reconciliation.ts';
import { replayDeadLetters } from '../../cli/replay-dead-letters.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { readTopic, type TopicRecord } from '../../test/support/topic-records.ts';
import { skipGroupToLatest } from '../../test/support/consumer-groups.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { uniquePaymentId } from '../../test/support/ipn.ts';
import { paymentReceivedRecord } from '../../test/support/payment-record.ts';
import { plantConversionBatch, registerClient, swapEvent } from '../../test/support/settlement-fixtures.ts';
import { startRouter, routerConsumerGroup } from '../../processors/router/start-router.ts';
import { startSettlement, settlementConsumerGroup, type RunningSettlement } from '../../processors/settlement/start-settlement.ts';

const endpoints = inject('endpoints');
const wait = { timeoutMs: 60_000, intervalMs: 300 };

/** Every log line of both processors, parsed, so the test can find the alert. */
const logLines: Record<string, unknown>[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });

let config: Config;
let database: DatabasePool;
let producer: Producer;
let serde: AvroSerde;
let router: RunningConsumerProcess;
let settlement: RunningSettlement;

beforeAll(async () => {
  config = loadConfig({ ...testStackEnvironment(process.env), WINDOW_PUNCTUATION_INTERVAL: '200ms' });
  database = await openTestDatabase();
  // Only what this file produces: earlier files' records are not this file's business.
  await skipGroupToLatest(endpoints, routerConsumerGroup, [topicNames.paymentsReceived, topicNames.clientPayoutConfigs]);
  await skipGroupToLatest(endpoints, settlementConsumerGroup, [topicNames.swapEvents]);
  router = await startRouter({ config, endpoints, port: 0, log });
  settlement = await startSettlement({ config, endpoints, port: 0, log });
  producer = createIdempotentProducer(createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'poison-test', log, requestTimeoutMs: 10_000 }));
  await producer.connect();
  serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
}, 240_000);

afterAll(async () => {
  await producer?.disconnect();
  await settlement?.stop();
  await router?.stop();
  if (database !== undefined) expect(await findViolations(database)).toEqual([]);
  await database?.end();
});

interface Produced {
  partition: number;
  offsets: string[];
}

/** All records in ONE produce request under one key: one partition, consecutive offsets, so they reach the consumer as one chunk. */
async function produceTogether<S extends ValueSchemaName>(topic: string, schemaName: S, key: string, values: readonly ValueRecordOf<S>[]): Promise<Produced> {
  const messages = await Promise.all(
    values.map(async (value) => ({ key, value: await serde.encode(topic, schemaName, value), headers: { [correlationIdHeader]: randomUUID() } })),
  );
  const [metadata] = await producer.send({ topic, acks: -1, messages });
  if (metadata === undefined || metadata.baseOffset === undefined) throw new Error('no produce metadata');
  const base = BigInt(metadata.baseOffset);
  return { partition: metadata.partition, offsets: values.map((_, index) => (base + BigInt(index)).toString()) };
}

async function deadLettersOf(topic: string, messageIds: readonly string[]): Promise<TopicRecord[]> {
  const letters = await readTopic(endpoints, deadLetterTopicOf(topic));
  return letters.filter((letter) => messageIds.includes(headerText(letter.headers, 'dlq-message-id') ?? ''));
}

async function committedOffset(groupId: string, topic: string, partition: number): Promise<bigint> {
  const admin = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'poison-test-admin', log, requestTimeoutMs: 10_000 }).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const found = offsets?.partitions.find((entry) => entry.partition === partition);
    return BigInt(found?.offset ?? '-1');
  } finally {
    await admin.disconnect();
  }
}

async function poisonCounted(url: string, consumer: string, topic: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith('consumer_poison_records_total{') && entry.includes(`consumer="${consumer}"`) && entry.includes(`topic="${topic}"`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

function alertsFor(consumer: string, topic: string): Record<string, unknown>[] {
  return logLines.filter((line) => line['alert'] === true && line['consumer'] === consumer && line['topic'] === topic);
}

const count = z.object({ count: z.number().int() });

describe('poison records on payments-received (router)', () => {
  it('applies the good payments once, dead-letters each payment PostgreSQL refuses once, and moves the partition on', async () => {
    const client = await registerClient(database, { thresholdUsd: '100000' });
    const payment = (paidAt: Date): PaymentReceived => ({ ...paymentReceivedRecord(uniquePaymentId(), client.clientId), paid_at: paidAt });
    // Year 5000 BC: a valid JavaScript Date and Avro timestamp, but before PostgreSQL's first year.
    const beforePostgres = new Date('-005000-01-01T00:00:00Z');
    const fine = new Date('2026-11-20T00:00:00Z');
    const records = [payment(fine), payment(fine), payment(beforePostgres), payment(fine), payment(beforePostgres), payment(fine)];
    const poisonIds = [records[2], records[4]].map((record) => record?.payment_id ?? '');
    const goodIds = records.map((record) => record.payment_id).filter((id) => !poisonIds.includes(id));
    const produced = await produceTogether(topicNames.paymentsReceived, 'payment-received', client.clientId, records);
    const lastOffset = BigInt(produced.offsets.at(-1) ?? '0');

    await eventually(async () => {
      expect(await committedOffset(routerConsumerGroup, topicNames.paymentsReceived, produced.partition)).toBe(lastOffset + 1n);
    }, wait);

    const ledger = await database.any(sql.type(z.object({ payment_id: z.string(), state: z.string() }))`
      SELECT payment_id, state FROM payment_ledger WHERE client_id = ${client.clientId} ORDER BY payment_id`);
    expect(ledger.map((row) => row.payment_id).sort()).toEqual([...goodIds].sort());
    expect(new Set(ledger.map((row) => row.state))).toEqual(new Set(['pending_conversion']));

    const letters = await eventually(async () => {
      await router.relay.drain();
      const found = await deadLettersOf(topicNames.paymentsReceived, poisonIds);
      expect(found).toHaveLength(2);
      return found;
    }, wait);
    for (const [index, poisonId] of poisonIds.entries()) {
      const letter = letters.find((entry) => headerText(entry.headers, 'dlq-message-id') === poisonId);
      expect(headerText(letter?.headers, 'dlq-rule')).toBe('applicable');
      expect(headerText(letter?.headers, 'dlq-consumer')).toBe(routerConsumerGroup);
      expect(headerText(letter?.headers, 'dlq-sqlstate')).toMatch(/^22/);
      expect(headerText(letter?.headers, 'dlq-reason')).toMatch(/range|invalid/i);
      expect(headerText(letter?.headers, 'dlq-original-offset')).toBe(produced.offsets[index === 0 ? 2 : 4]);
      expect(letter?.key).toBe(client.clientId);
    }
    // Nothing claimed for the poison: a replay will not be dropped as a duplicate.
    expect(await database.oneFirst(sql.type(count)`
      SELECT count(*)::int AS count FROM processed_messages WHERE consumer = ${routerConsumerGroup} AND message_id = ANY(${sql.array(poisonIds, 'text')})`)).toBe(0);

    expect((await fetch(`${router.url}/ready`)).status).toBe(200);
    expect(await poisonCounted(router.url, routerConsumerGroup, topicNames.paymentsReceived)).toBe(2);
    const alerts = alertsFor(routerConsumerGroup, topicNames.paymentsReceived);
    expect(alerts.map((alert) => alert['offset'])).toEqual([produced.offsets[2], produced.offsets[4]]);
    expect(String(alerts[0]?.['msg'])).toContain(`consumer router, topic payments-received, partition ${produced.partition}, offset ${produced.offsets[2]}`);

    // `replay` puts them back; the router takes them up again (no inbox claim drops them) and,
    // the cause being unfixed, dead-letters them again: no stuck partition either way.
    const committedBefore = await committedOffset(routerConsumerGroup, topicNames.paymentsReceived, produced.partition);
    expect((await replayDeadLetters(endpoints, topicNames.paymentsReceived, log)).replayed).toBeGreaterThanOrEqual(2);
    await eventually(async () => {
      await router.relay.drain();
      expect(await deadLettersOf(topicNames.paymentsReceived, poisonIds)).toHaveLength(4);
    }, wait);
    expect(await committedOffset(routerConsumerGroup, topicNames.paymentsReceived, produced.partition)).toBeGreaterThan(committedBefore);
    expect(await poisonCounted(router.url, routerConsumerGroup, topicNames.paymentsReceived)).toBe(4);
  }, 180_000);
});

describe('poison records on swap-events (settlement)', () => {
  it('applies the conversion events around an event PostgreSQL refuses, and dead-letters that one once', async () => {
    const client = await registerClient(database, { thresholdUsd: '100000' });
    const { batchId, payments } = await plantConversionBatch(database, [
      { clientId: client.clientId, usdGross: '30' },
      { clientId: client.clientId, usdGross: '45' },
    ]);
    const created = swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'CREATED', exchange_id: 'ex-poison-1', status: 'new' });
    // A negative ETH amount breaks conversion_batches' CHECK (eth_sent > 0): SQLSTATE 23514.
    const poison = swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'STATUS_CHANGED', exchange_id: 'ex-poison-1', status: 'confirming', amount_from: new Decimal('-0.5') });
    const finished = swapEvent({
      command_id: batchId,
      command_kind: 'CONVERSION',
      type: 'FINISHED',
      exchange_id: 'ex-poison-1',
      status: 'finished',
      amount_from: new Decimal('0.024'),
      amount_to: new Decimal('71.5'),
      payin_hash: '0xpayin',
      payout_hash: '0xpayout',
    });
    const events: SwapEvent[] = [created, poison, finished];
    const produced = await produceTogether(topicNames.swapEvents, 'swap-event', batchId, events);

    await eventually(async () => {
      expect(await committedOffset(settlementConsumerGroup, topicNames.swapEvents, produced.partition)).toBe(BigInt(produced.offsets.at(-1) ?? '0') + 1n);
    }, wait);
    const batch = await database.one(sql.type(z.object({ state: z.string(), exchange_id: z.string().nullable() }))`
      SELECT state, exchange_id FROM conversion_batches WHERE batch_id = ${batchId}`);
    expect(batch).toEqual({ state: 'finished', exchange_id: 'ex-poison-1' });
    const credited = await database.oneFirst(sql.type(count)`
      SELECT count(*)::int AS count FROM usdt_credits WHERE conversion_batch_id = ${batchId}`);
    expect(credited).toBe(payments.length);

    const letters = await eventually(async () => {
      const found = await deadLettersOf(topicNames.swapEvents, [poison.event_id]);
      expect(found).toHaveLength(1);
      return found;
    }, wait);
    expect(headerText(letters[0]?.headers, 'dlq-rule')).toBe('applicable');
    expect(headerText(letters[0]?.headers, 'dlq-sqlstate')).toBe('23514');
    expect(headerText(letters[0]?.headers, 'dlq-error-class')).toBe('ConstraintViolationError');
    expect(headerText(letters[0]?.headers, 'dlq-original-offset')).toBe(produced.offsets[1]);
    // The other two events are dead-lettered by nobody.
    expect(await deadLettersOf(topicNames.swapEvents, [created.event_id, finished.event_id])).toEqual([]);

    expect((await fetch(`${settlement.url}/ready`)).status).toBe(200);
    expect(await poisonCounted(settlement.url, settlementConsumerGroup, topicNames.swapEvents)).toBe(1);
    expect(alertsFor(settlementConsumerGroup, topicNames.swapEvents).map((alert) => alert['offset'])).toEqual([produced.offsets[1]]);
  }, 180_000);
});
