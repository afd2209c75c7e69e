// Proves settlement has no size cliff, on the real stack: a finished conversion of 50,000 payments,
// and one chunk of three finished conversions of 15,000 payments each, are credited in full with
// one CreditIssued outbox record per payment — statements far past PostgreSQL's 65,535-parameter
// limit if they were built with one parameter per value — and the partition moves on.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { correlationIdHeader, createIdempotentProducer, createKafkaClient, type Producer } from '../../core/kafka/kafka-client.ts';
import { createAvroSerde, createSchemaRegistryClient, type AvroSerde } from '../../schemas/registry.ts';
import type { SwapEvent } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { findViolations } from '../../db/reconciliation.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { skipGroupToLatest } from '../../test/support/consumer-groups.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { plantConversionBatch, registerClient, swapEvent, type TestClient } from '../../test/support/settlement-fixtures.ts';
import { startSettlement, settlementConsumerGroup, type RunningSettlement } from './start-settlement.ts';

const endpoints = inject('endpoints');
const wait = { timeoutMs: 240_000, intervalMs: 1_000 };
const log = createLogger({ name: 'settlement-large-test', level: 'warn' });

let database: DatabasePool;
let producer: Producer;
let serde: AvroSerde;
let settlement: RunningSettlement;
let clients: TestClient[];

beforeAll(async () => {
  database = await openTestDatabase();
  await skipGroupToLatest(endpoints, settlementConsumerGroup, [topicNames.swapEvents]);
  settlement = await startSettlement({ config: loadConfig(testStackEnvironment(process.env)), endpoints, port: 0, log });
  producer = createIdempotentProducer(createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'settlement-large-test', log, requestTimeoutMs: 30_000 }));
  await producer.connect();
  serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
  // Thresholds no share reaches: the credits stay unpaid, so no payout command leaves this file.
  clients = [];
  for (let index = 0; index < 20; index += 1) clients.push(await registerClient(database, { thresholdUsd: '100000' }));
}, 240_000);

afterAll(async () => {
  await producer?.disconnect();
  await settlement?.stop();
  if (database !== undefined) expect(await findViolations(database)).toEqual([]);
  await database?.end();
});

/** A conversion of `paymentCount` one-dollar payments spread over the clients, swapping. */
async function plantLargeConversion(paymentCount: number): Promise<{ batchId: string; usdtReceived: Decimal }> {
  const members = Array.from({ length: paymentCount }, (_, index) => ({ clientId: clients[index % clients.length]?.clientId ?? '', usdGross: '1' }));
  const { batchId } = await plantConversionBatch(database, members);
  // About what 0.97 USD per payment buys after the exchange's fee, with odd base units so the
  // distribution has remainders to place.
  return { batchId, usdtReceived: new Decimal(paymentCount).times('0.96').plus('0.123457') };
}

function finishedEvent(batchId: string, usdtReceived: Decimal): SwapEvent {
  return swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: `ex-${batchId}`, status: 'finished', amount_to: usdtReceived, payout_hash: '0xpayout' });
}

/** Produces the events in ONE request on one key, so settlement consumes them as one chunk. */
async function produceTogether(key: string, events: readonly SwapEvent[], correlationId: string): Promise<void> {
  const messages = await Promise.all(
    events.map(async (event) => ({ key, value: await serde.encode(topicNames.swapEvents, 'swap-event', event), headers: { [correlationIdHeader]: correlationId } })),
  );
  await producer.send({ topic: topicNames.swapEvents, acks: -1, messages });
}

const count = z.object({ count: z.number().int() });

async function settled(batchIds: readonly string[], correlationId: string): Promise<{ credits: number; outboxRecords: number }> {
  return eventually(async () => {
    const finished = await database.oneFirst(sql.type(count)`
      SELECT count(*)::int AS count FROM conversion_batches WHERE batch_id = ANY(${sql.array(batchIds, 'text')}) AND state = 'finished'`);
    expect(finished).toBe(batchIds.length);
    const credits = await database.oneFirst(sql.type(count)`
      SELECT count(*)::int AS count FROM usdt_credits WHERE conversion_batch_id = ANY(${sql.array(batchIds, 'text')})`);
    const outboxRecords = await database.oneFirst(sql.type(count)`
      SELECT count(*)::int AS count FROM outbox WHERE topic = ${topicNames.usdtCredits} AND correlation_id = ${correlationId}`);
    return { credits, outboxRecords };
  }, wait);
}

describe('a conversion far past the parameter limit', () => {
  it('credits a conversion of 50,000 payments and emits 50,000 CreditIssued', async () => {
    const { batchId, usdtReceived } = await plantLargeConversion(50_000);
    const correlationId = randomUUID();
    const startedAtMs = Date.now();
    await produceTogether(batchId, [finishedEvent(batchId, usdtReceived)], correlationId);
    const result = await settled([batchId], correlationId);
    log.warn({ payments: 50_000, settleMs: Date.now() - startedAtMs }, 'settled one conversion of 50,000 payments');
    expect(result).toEqual({ credits: 50_000, outboxRecords: 50_000 });
    const total = await database.oneFirst(sql.type(z.object({ total: z.string() }))`
      SELECT sum(usdt_amount)::text AS total FROM usdt_credits WHERE conversion_batch_id = ${batchId}`);
    expect(new Decimal(total).eq(usdtReceived)).toBe(true);
    expect((await fetch(`${settlement.url}/ready`)).status).toBe(200);
  }, 300_000);

  it('credits three conversions of 15,000 payments finished in one chunk', async () => {
    const conversions = [await plantLargeConversion(15_000), await plantLargeConversion(15_000), await plantLargeConversion(15_000)];
    const correlationId = randomUUID();
    const startedAtMs = Date.now();
    // One key for all three: one partition, one produce request, one consumed chunk.
    await produceTogether(`chunk-${correlationId}`, conversions.map(({ batchId, usdtReceived }) => finishedEvent(batchId, usdtReceived)), correlationId);
    const result = await settled(conversions.map(({ batchId }) => batchId), correlationId);
    log.warn({ payments: 45_000, settleMs: Date.now() - startedAtMs }, 'settled three conversions of 15,000 payments in one chunk');
    expect(result).toEqual({ credits: 45_000, outboxRecords: 45_000 });
  }, 300_000);
});
