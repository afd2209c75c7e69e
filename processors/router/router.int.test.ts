// Proves the router through its public interfaces on the real stack (webhook → payments-received →
// router → PostgreSQL and payout-requests): instant and threshold clients routed side by side with
// exact fees, an unregistered client's payment routed once its configuration arrives (also when
// both race through two router instances), duplicates changing nothing even past the inbox, and
// bad records dead-lettered with their reason while the partition moves on.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { correlationIdHeader, createIdempotentProducer, createKafkaClient, headerText, type IHeaders, type Producer } from '../../core/kafka/kafka-client.ts';
import type { RunningConsumerProcess } from '../../core/processing/consumer-process.ts';
import type { DatabaseTransactionConnection } from 'slonik';
import type { ConsumedRecord } from '../../core/processing/consumed-record.ts';
import type { HandlerContext } from '../../core/processing/processor.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import { createAvroSerde, createSchemaRegistryClient, type AvroSerde } from '../../schemas/registry.ts';
import type { ClientPayoutConfig, PaymentReceived, PayoutRequested } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, topicNames } from '../../topics/topics.ts';
import { findViolations } from '../../db/reconciliation.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { clientIdOf, finishedIpn, jsonNumber, paymentIdOf, postIpn, testIpnSecret, uniqueClientId, uniquePaymentId } from '../../test/support/ipn.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { startWebhook, type RunningWebhook } from '../webhook/start-webhook.ts';
import { startRouter } from './start-router.ts';
import { createRouterProcessor } from './router-handler.ts';
import { openRouterStore, type RouterStore } from './router-store.ts';
import { Registry } from 'prom-client';
import { decimalColumn } from '../../db/column-types.ts';
import { decodeLedgerPending } from '../../db/ledger-notifications.ts';

const endpoints = inject('endpoints');
const log = createLogger({ name: 'router-test', level: 'silent' });
const xmrWallet = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
const wait = { timeoutMs: 45_000, intervalMs: 200 };

let config: Config;
let webhook: RunningWebhook;
let router: RunningConsumerProcess;
let database: DatabasePool;
let producer: Producer;
let serde: AvroSerde;
let listener: pg.Client;
const notifications: string[] = [];

beforeAll(async () => {
  config = loadConfig({ ...testStackEnvironment(process.env), NOWPAYMENTS_IPN_SECRET: testIpnSecret, PLATFORM_FEE_PERCENT: '3' });
  webhook = await startWebhook({ config, endpoints, port: 0, log });
  router = await startRouter({ config, endpoints, port: 0, log });
  database = await openTestDatabase();
  producer = createIdempotentProducer(createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'router-test', log, requestTimeoutMs: 10_000 }));
  await producer.connect();
  serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
  listener = new pg.Client({ connectionString: endpoints.databaseUrl });
  await listener.connect();
  listener.on('notification', (notification) => notifications.push(notification.payload ?? ''));
  await listener.query('LISTEN ledger_pending');
});

afterAll(async () => {
  await listener?.end();
  await producer?.disconnect();
  await router?.stop();
  await webhook?.stop();
  await database?.end();
});

// ---- helpers --------------------------------------------------------------------------------

const decimal = decimalColumn;
const ledgerRow = z.object({
  payment_id: z.string(),
  client_id: z.string(),
  state: z.string(),
  fee_percent: decimal,
  usd_gross: decimal,
  platform_fee_usd: decimal,
  usd_net: decimal,
  eth_gross: decimal,
  platform_fee_eth: decimal,
  eth_net: decimal,
  payout_batch_id: z.string().nullable(),
  routed_at: z.date().nullable(),
  updated_at: z.date(),
});
type LedgerRow = z.infer<typeof ledgerRow>;

async function ledgerOf(paymentId: string): Promise<LedgerRow | null> {
  return database.maybeOne(sql.type(ledgerRow)`
    SELECT payment_id, client_id, state, fee_percent, usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net,
           payout_batch_id, routed_at, updated_at
    FROM payment_ledger WHERE payment_id = ${paymentId}`);
}

async function ledgerIn(paymentId: string, state: string): Promise<LedgerRow> {
  return eventually(async () => {
    const row = await ledgerOf(paymentId);
    expect(row?.state).toBe(state);
    return row as LedgerRow;
  }, wait);
}

const payoutBatchRow = z.object({
  batch_id: z.string(),
  client_id: z.string(),
  reason: z.string(),
  state: z.string(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  source_currency: z.string(),
  source_amount: decimal,
  usd_value: decimal,
});

async function payoutBatchesOf(clientId: string) {
  return database.any(sql.type(payoutBatchRow)`
    SELECT batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency, source_amount, usd_value
    FROM payout_batches WHERE client_id = ${clientId}`);
}

async function payoutCommandsFor(batchId: string): Promise<PayoutRequested[]> {
  const records = await readTopic(endpoints, topicNames.payoutRequests);
  return records.map((record) => record.value as PayoutRequested).filter((command) => command.command_id === batchId);
}

async function registerClient(clientId: string, strategy: 'instant' | 'threshold'): Promise<void> {
  await database.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    VALUES (${clientId}, 1, ${strategy}, ${strategy === 'threshold' ? '50' : null}::numeric, ${xmrWallet}, 'xmr', 'xmr')`);
}

function clientConfig(clientId: string, strategy: 'INSTANT' | 'THRESHOLD', revision = 1): ClientPayoutConfig {
  return {
    client_id: clientId,
    revision,
    strategy,
    threshold_usd: strategy === 'THRESHOLD' ? new Decimal('50') : null,
    wallet_address: xmrWallet,
    payout_currency: 'xmr',
    payout_network: 'xmr',
    pending_wallet_address: null,
    pending_wallet_effective_at: null,
    changed_by: 'router-test',
    changed_at: new Date(),
  };
}

async function publishConfig(value: ClientPayoutConfig): Promise<void> {
  const encoded = await serde.encode(topicNames.clientPayoutConfigs, 'client-payout-config', value);
  await producer.send({ topic: topicNames.clientPayoutConfigs, acks: -1, messages: [{ key: value.client_id, value: encoded, headers: { [correlationIdHeader]: randomUUID() } }] });
}

function paymentRecord(clientId: string, overrides: Partial<PaymentReceived> = {}): PaymentReceived {
  return {
    payment_id: uniquePaymentId(),
    client_id: clientId,
    user_id: '6271402111',
    subscription_id: '42',
    order_id: `PP1|${clientId}|6271402111|42`,
    order_description: null,
    usd_amount: new Decimal('20'),
    eth_amount: new Decimal('0.008'),
    pay_currency: 'eth',
    actually_paid: new Decimal('0.008'),
    pay_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
    purchase_id: null,
    paid_at: new Date('2026-11-20T14:23:06.244Z'),
    received_at: new Date(),
    ...overrides,
  };
}

/** Produces straight to payments-received, as an operator re-producing a record would. */
async function producePayment(key: string, value: Buffer): Promise<{ partition: number; offset: string }> {
  const [metadata] = await producer.send({ topic: topicNames.paymentsReceived, acks: -1, messages: [{ key, value, headers: { [correlationIdHeader]: randomUUID() } }] });
  if (metadata === undefined) throw new Error('the broker acknowledged nothing');
  return { partition: metadata.partition, offset: metadata.baseOffset ?? '-1' };
}

interface RawRecord {
  partition: number;
  offset: string;
  key: string | null;
  headers: IHeaders;
  raw: Buffer | null;
}

/** readTopic decodes every value; a dead-letter topic holds bytes that may decode as nothing. */
async function readRawTopic(topic: string): Promise<RawRecord[]> {
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'router-test-raw', log, requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((end) => BigInt(end.high) > BigInt(end.low)).map((end) => [end.partition, BigInt(end.high)]));
  const records: RawRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `router-test-raw-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end`)), 30_000);
      consumer
        .run({
          eachMessage: ({ partition, message }) => {
            const high = remaining.get(partition);
            if (high === undefined || BigInt(message.offset) >= high) return Promise.resolve();
            records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, headers: message.headers ?? {}, raw: message.value });
            if (BigInt(message.offset) + 1n >= high) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(deadline);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

// ---- tests ----------------------------------------------------------------------------------

describe('payments of registered clients', () => {
  it('routes an instant and a threshold client side by side, with the fee exact on both sides', async () => {
    const instant = finishedIpn({ price_amount: jsonNumber('49.99'), outcome_amount: jsonNumber('0.021087000000000001') });
    const threshold = finishedIpn({ price_amount: jsonNumber('50.00'), outcome_amount: jsonNumber('0.021087') });
    await registerClient(clientIdOf(instant), 'instant');
    await registerClient(clientIdOf(threshold), 'threshold');
    const notifiedBefore = notifications.length;

    expect((await postIpn(webhook.url, instant, { correlationId: 'router-test-instant' })).status).toBe(202);
    expect((await postIpn(webhook.url, threshold)).status).toBe(202);

    const instantRow = await ledgerIn(paymentIdOf(instant), 'instant_payout');
    expect(instantRow.fee_percent.toFixed()).toBe('3');
    expect([instantRow.usd_gross, instantRow.platform_fee_usd, instantRow.usd_net].map((value) => value.toFixed())).toEqual(['49.99', '1.4997', '48.4903']);
    expect([instantRow.eth_gross, instantRow.platform_fee_eth, instantRow.eth_net].map((value) => value.toFixed())).toEqual([
      '0.021087000000000001',
      '0.00063261',
      '0.020454390000000001',
    ]);
    expect(instantRow.routed_at).not.toBeNull();
    const batchId = `instant-${paymentIdOf(instant)}`;
    expect(instantRow.payout_batch_id).toBe(batchId);

    const thresholdRow = await ledgerIn(paymentIdOf(threshold), 'pending_conversion');
    expect([thresholdRow.usd_gross, thresholdRow.platform_fee_usd, thresholdRow.usd_net].map((value) => value.toFixed())).toEqual(['50', '1.5', '48.5']);
    expect([thresholdRow.platform_fee_eth, thresholdRow.eth_net].map((value) => value.toFixed())).toEqual(['0.00063261', '0.02045439']);
    expect(thresholdRow.payout_batch_id).toBeNull();
    expect(await payoutBatchesOf(clientIdOf(threshold))).toHaveLength(0);

    const [batch, ...otherBatches] = await payoutBatchesOf(clientIdOf(instant));
    expect(otherBatches).toHaveLength(0);
    expect(batch).toMatchObject({ batch_id: batchId, reason: 'instant', state: 'requested', wallet_address: xmrWallet, payout_currency: 'xmr', payout_network: 'xmr', source_currency: 'eth' });
    expect(batch?.source_amount.toFixed()).toBe('0.020454390000000001');
    expect(batch?.usd_value.toFixed()).toBe('48.4903');

    const commands = await eventually(async () => {
      const found = await payoutCommandsFor(batchId);
      expect(found).toHaveLength(1);
      return found;
    }, wait);
    expect(commands[0]).toMatchObject({ payout_batch_id: batchId, client_id: clientIdOf(instant), reason: 'INSTANT', from_currency: 'eth', from_network: 'eth', to_currency: 'xmr', to_network: 'xmr', payout_address: xmrWallet });
    expect(commands[0]?.amount.toFixed()).toBe('0.020454390000000001');
    expect(commands[0]?.usd_value.toFixed()).toBe('48.4903');
    const [published] = (await readTopic(endpoints, topicNames.payoutRequests)).filter((record) => (record.value as PayoutRequested).command_id === batchId);
    expect(published?.key).toBe(clientIdOf(instant));
    expect(headerText(published?.headers, correlationIdHeader)).toBe('router-test-instant');

    // The accumulator reacts to this; delivered only because the routing transaction committed.
    // Its payload says what became pending (the instant payment is not): the accumulator's running summary adds it.
    await eventually(() => {
      const arrivals = notifications.slice(notifiedBefore).map(decodeLedgerPending);
      expect(arrivals).toContainEqual({ kind: 'arrival', arrival: { count: 1, usdNet: new Decimal('48.5'), oldestReceivedAt: expect.any(Date) as Date } });
    }, wait);

    const metrics = await (await fetch(`${router.url}/metrics`)).text();
    expect(metrics).toMatch(/router_payments_total\{outcome="instant_payout",path="payment",service="router"\} [1-9]/);
    expect(metrics).toMatch(/router_payments_total\{outcome="pending_conversion",path="payment",service="router"\} [1-9]/);
  });
});

describe('a payment of a client not registered yet', () => {
  it('is kept as unroutable and paid out instantly once the client’s configuration arrives', async () => {
    const ipn = finishedIpn();
    const clientId = clientIdOf(ipn);
    expect((await postIpn(webhook.url, ipn)).status).toBe(202);
    const waiting = await ledgerIn(paymentIdOf(ipn), 'unroutable');
    expect(waiting.routed_at).toBeNull();
    expect(waiting.usd_net.toFixed()).toBe('48.5');

    // As the admin API does it: the row is stored, then the record is published.
    await registerClient(clientId, 'instant');
    await publishConfig(clientConfig(clientId, 'INSTANT'));

    const routed = await ledgerIn(paymentIdOf(ipn), 'instant_payout');
    expect(routed.routed_at).not.toBeNull();
    expect([routed.platform_fee_usd, routed.usd_net].map((value) => value.toFixed())).toEqual(['1.5', '48.5']);
    const batches = await payoutBatchesOf(clientId);
    expect(batches.map((batch) => batch.batch_id)).toEqual([`instant-${paymentIdOf(ipn)}`]);
    await eventually(async () => expect(await payoutCommandsFor(`instant-${paymentIdOf(ipn)}`)).toHaveLength(1), wait);
  });

  it('waits as pending_conversion once a threshold configuration arrives, even when only the record carries it', async () => {
    const clientId = uniqueClientId();
    const first = finishedIpn({ order_id: `PP1|${clientId}|7|1` });
    const second = finishedIpn({ order_id: `PP1|${clientId}|8|2` });
    expect((await postIpn(webhook.url, first)).status).toBe(202);
    expect((await postIpn(webhook.url, second)).status).toBe(202);
    await ledgerIn(paymentIdOf(first), 'unroutable');
    await ledgerIn(paymentIdOf(second), 'unroutable');

    await publishConfig(clientConfig(clientId, 'THRESHOLD', 3));

    await ledgerIn(paymentIdOf(first), 'pending_conversion');
    await ledgerIn(paymentIdOf(second), 'pending_conversion');
    const stored = await database.one(sql.type(z.object({ revision: z.number(), strategy: z.string() }))`
      SELECT revision, strategy FROM clients WHERE client_id = ${clientId}`);
    expect(stored).toEqual({ revision: 3, strategy: 'threshold' });

    // A later payment reads the stored configuration directly.
    const third = finishedIpn({ order_id: `PP1|${clientId}|9|3` });
    expect((await postIpn(webhook.url, third)).status).toBe(202);
    await ledgerIn(paymentIdOf(third), 'pending_conversion');
  });

  it('is routed exactly once when payments and registrations race through two router instances', async () => {
    const second = await startRouter({ config, endpoints, port: 0, log });
    try {
      const kafkaAdmin = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'router-test-admin', log, requestTimeoutMs: 10_000 }).admin();
      await kafkaAdmin.connect();
      await eventually(async () => {
        const { groups } = await kafkaAdmin.describeGroups(['router']);
        expect(groups[0]?.state).toBe('Stable');
        expect(groups[0]?.members).toHaveLength(2);
      }, { timeoutMs: 60_000, intervalMs: 500 });
      await kafkaAdmin.disconnect();

      const racers = Array.from({ length: 12 }, (_, index) => ({ ipn: finishedIpn(), strategy: index % 2 === 0 ? ('INSTANT' as const) : ('THRESHOLD' as const) }));
      await Promise.all(
        racers.map(async ({ ipn, strategy }) => {
          const [response] = await Promise.all([postIpn(webhook.url, ipn), publishConfig(clientConfig(clientIdOf(ipn), strategy))]);
          expect(response.status).toBe(202);
        }),
      );

      for (const { ipn, strategy } of racers) {
        const row = await ledgerIn(paymentIdOf(ipn), strategy === 'INSTANT' ? 'instant_payout' : 'pending_conversion');
        const batches = await payoutBatchesOf(clientIdOf(ipn));
        expect(batches.map((batch) => batch.batch_id)).toEqual(strategy === 'INSTANT' ? [row.payout_batch_id] : []);
      }
      const instantBatchIds = racers.filter(({ strategy }) => strategy === 'INSTANT').map(({ ipn }) => `instant-${paymentIdOf(ipn)}`);
      await eventually(async () => {
        const commands = (await readTopic(endpoints, topicNames.payoutRequests)).map((record) => (record.value as PayoutRequested).command_id);
        for (const batchId of instantBatchIds) expect(commands.filter((id) => id === batchId)).toHaveLength(1);
      }, wait);
    } finally {
      await second.stop();
    }
  });
});

describe('a payment racing its client’s registration', () => {
  const position = { partition: 0, offset: '0', raw: Buffer.alloc(0) };

  function paymentConsumed(value: PaymentReceived): ConsumedRecord<'payment-received'> {
    return { ...position, topic: topicNames.paymentsReceived, schemaName: 'payment-received', key: value.client_id, messageId: value.payment_id, correlationId: randomUUID(), value };
  }

  function configConsumed(value: ClientPayoutConfig): ConsumedRecord<'client-payout-config'> {
    return { ...position, topic: topicNames.clientPayoutConfigs, schemaName: 'client-payout-config', key: value.client_id, messageId: `${value.client_id}:${value.revision}`, correlationId: randomUUID(), value };
  }

  function contextOf(transaction: DatabaseTransactionConnection, emitted: OutboxRecord[]): HandlerContext<RouterStore> {
    return {
      store: openRouterStore(transaction),
      now: new Date(),
      emit: (record) => emitted.push(record),
      reject: (_record, field, rule, reason) => {
        throw new Error(`unexpected rejection of ${field} (${rule}): ${reason}`);
      },
    };
  }

  // Two chunk transactions as two router instances would run them, the first held open after its
  // work: the second must wait for the client's lock, or it would miss the first's uncommitted
  // write and leave the payment unroutable for good.
  it.each(['payment first', 'registration first'] as const)('routes the payment exactly once with the %s', async (order) => {
    const router = createRouterProcessor({ feePercent: new Decimal('3'), log, metrics: new Registry() });
    const clientId = uniqueClientId();
    const payment = paymentRecord(clientId);
    const paymentChunk = [paymentConsumed(payment)];
    const registrationChunk = [configConsumed(clientConfig(clientId, 'INSTANT'))];
    const [firstChunk, secondChunk] = order === 'payment first' ? [paymentChunk, registrationChunk] : [registrationChunk, paymentChunk];
    const emitted: OutboxRecord[] = [];
    const waitingBefore = await database.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);

    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let applied = (): void => undefined;
    const firstApplied = new Promise<void>((resolve) => (applied = resolve));
    const first = database.transaction(async (transaction) => {
      await router.handle(firstChunk, contextOf(transaction, emitted));
      applied();
      await held;
    });
    await firstApplied;
    let secondDone = false;
    const second = database.transaction((transaction) => router.handle(secondChunk, contextOf(transaction, emitted))).finally(() => {
      secondDone = true;
    });
    try {
      // The second is either waiting on the lock or (without one) already done: only then release.
      await eventually(async () => {
        const waiting = await database.oneFirst(sql.type(z.object({ count: z.number() }))`
          SELECT count(*)::int AS count FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        expect(secondDone || waiting > waitingBefore).toBe(true);
      }, wait);
    } finally {
      release();
    }
    await Promise.all([first, second]);

    const row = await ledgerOf(payment.payment_id);
    expect(row?.state).toBe('instant_payout');
    expect((await payoutBatchesOf(clientId)).map((batch) => batch.batch_id)).toEqual([`instant-${payment.payment_id}`]);
    expect(emitted.map((record) => (record.value as PayoutRequested).command_id)).toEqual([`instant-${payment.payment_id}`]);
  });
});

describe('records that must change nothing', () => {
  it('ignores a payment produced again, also when its inbox entry is gone (the ledger key holds)', async () => {
    const clientId = uniqueClientId();
    await registerClient(clientId, 'instant');
    const payment = paymentRecord(clientId);
    const bytes = await serde.encode(topicNames.paymentsReceived, 'payment-received', payment);
    await producePayment(clientId, bytes);
    const routed = await ledgerIn(payment.payment_id, 'instant_payout');

    await producePayment(clientId, bytes);
    await producePayment(clientId, bytes);
    // Same key, so the same partition: once the marker is routed, the copies before it were consumed.
    const marker = paymentRecord(clientId);
    await producePayment(clientId, await serde.encode(topicNames.paymentsReceived, 'payment-received', marker));
    await ledgerIn(marker.payment_id, 'instant_payout');

    await database.query(sql.unsafe`DELETE FROM processed_messages WHERE consumer = 'router' AND message_id = ${payment.payment_id}`);
    await producePayment(clientId, bytes);
    const secondMarker = paymentRecord(clientId);
    await producePayment(clientId, await serde.encode(topicNames.paymentsReceived, 'payment-received', secondMarker));
    await ledgerIn(secondMarker.payment_id, 'instant_payout');

    expect(await ledgerOf(payment.payment_id)).toEqual(routed);
    expect((await payoutBatchesOf(clientId)).map((batch) => batch.batch_id).sort()).toEqual(
      [payment.payment_id, marker.payment_id, secondMarker.payment_id].map((id) => `instant-${id}`).sort(),
    );
    await eventually(async () => {
      const commands = (await readTopic(endpoints, topicNames.payoutRequests)).map((record) => (record.value as PayoutRequested).command_id);
      expect(commands.filter((id) => id === `instant-${payment.payment_id}`)).toHaveLength(1);
      expect(commands.filter((id) => id === `instant-${secondMarker.payment_id}`)).toHaveLength(1);
    }, wait);
  });
});

describe('records the router cannot take', () => {
  it('dead-letters garbage bytes and a payment breaking a ledger rule with their reasons, and the partition moves on', async () => {
    const clientId = uniqueClientId();
    await registerClient(clientId, 'threshold');
    const garbage = Buffer.from('not an avro record at all');
    const poison = await producePayment(clientId, garbage);
    const zero = paymentRecord(clientId, { usd_amount: new Decimal('0') });
    const zeroBytes = await serde.encode(topicNames.paymentsReceived, 'payment-received', zero);
    await producePayment(clientId, zeroBytes);
    const marker = paymentRecord(clientId);
    const markerAt = await producePayment(clientId, await serde.encode(topicNames.paymentsReceived, 'payment-received', marker));
    expect(markerAt.partition).toBe(poison.partition);

    await ledgerIn(marker.payment_id, 'pending_conversion');
    expect(await ledgerOf(zero.payment_id)).toBeNull();

    const letters = await eventually(async () => {
      const found = (await readRawTopic(deadLetterTopicOf(topicNames.paymentsReceived))).filter((record) => record.key === clientId);
      expect(found).toHaveLength(2);
      return found;
    }, wait);
    const garbageLetter = letters.find((letter) => letter.raw?.equals(garbage) === true);
    expect(headerText(garbageLetter?.headers, 'dlq-rule')).toBe('wire-format');
    expect(headerText(garbageLetter?.headers, 'dlq-reason')).toMatch(/magic byte/);
    expect(headerText(garbageLetter?.headers, 'dlq-consumer')).toBe('router');
    expect(headerText(garbageLetter?.headers, 'dlq-original-topic')).toBe(topicNames.paymentsReceived);
    expect(headerText(garbageLetter?.headers, 'dlq-original-offset')).toBe(poison.offset);
    const ruleLetter = letters.find((letter) => letter.raw?.equals(zeroBytes) === true);
    expect(headerText(ruleLetter?.headers, 'dlq-field')).toBe('usd_amount');
    expect(headerText(ruleLetter?.headers, 'dlq-rule')).toBe('positive');
    expect(headerText(ruleLetter?.headers, 'dlq-reason')).toMatch(/must be positive/);

    // Other suites read payments-received and replay its dead letters, decoding every record; the
    // garbage this test wrote would break them, so it is removed now that it has proven its point.
    // The marker after it keeps the partition non-empty.
    const kafkaAdmin = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'router-test-cleanup', log, requestTimeoutMs: 10_000 }).admin();
    await kafkaAdmin.connect();
    // kafkajs' deleteTopicRecords needs the topics' metadata loaded first.
    await kafkaAdmin.fetchTopicMetadata({ topics: [topicNames.paymentsReceived, deadLetterTopicOf(topicNames.paymentsReceived)] });
    await kafkaAdmin.deleteTopicRecords({ topic: topicNames.paymentsReceived, partitions: [{ partition: poison.partition, offset: (BigInt(poison.offset) + 1n).toString() }] });
    const deadLetterEnds = await kafkaAdmin.fetchTopicOffsets(deadLetterTopicOf(topicNames.paymentsReceived));
    await kafkaAdmin.deleteTopicRecords({
      topic: deadLetterTopicOf(topicNames.paymentsReceived),
      partitions: deadLetterEnds.map((end) => ({ partition: end.partition, offset: end.high })),
    });
    await kafkaAdmin.disconnect();
    await expect(readTopic(endpoints, topicNames.paymentsReceived)).resolves.toBeDefined();
  });
});

describe('the books', () => {
  it('balance after everything above: every reconciliation invariant holds', async () => {
    expect(await findViolations(database)).toEqual([]);
  });
});
