// Proves that while Kafka is down the webhook still accepts payments (PostgreSQL is the durable
// write-ahead), and that each is published exactly once in effect when the broker is back: one
// outbox row per payment, and on the topic at least one copy, every copy the same record. A real
// broker of its own is stopped mid-test.
//
// More than one copy on the topic is allowed, because the relay is at least once by design
// (outbox-relay.ts, producer-session.ts): a send that times out while the restarting broker writes
// it anyway is sent again under a new producer id. Consumers drop the copy by its payment id in
// their inbox. CI saw such a copy once; asserting exactly one copy made the test flaky.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { applyAllTopics } from '../../cli/prepare.ts';
import { startNativeKafka } from '../../stack/kafka/start-native-kafka.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { topicNames } from '../../topics/topics.ts';
import type { PaymentReceived } from '../../schemas/generated/records.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { finishedIpn, paymentIdOf, postIpn, testIpnSecret } from '../../test/support/ipn.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { eventually } from '../../test/support/eventually.ts';
import { findFreePort } from '../../stack/service.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { startWebhook, type RunningWebhook } from './start-webhook.ts';

const log = createLogger({ name: 'outage-test', level: 'silent' });
let kafkaPort: number;
let controllerPort: number;
let dataDirectory: string;
let endpoints: StackEndpoints;
let webhook: RunningWebhook;
let database: DatabasePool;

function startBroker() {
  return startNativeKafka({
    port: kafkaPort,
    controllerPort,
    dataDirectory,
    cacheDirectory: path.resolve('.cache/kafka-libs'),
    log,
  });
}

let broker: Awaited<ReturnType<typeof startBroker>>;

beforeAll(async () => {
  dataDirectory = await mkdtemp(path.join(tmpdir(), 'outage-kafka-'));
  kafkaPort = await findFreePort();
  controllerPort = await findFreePort();
  broker = await startBroker();
  endpoints = { ...inject('endpoints'), kafkaBrokers: broker.brokers };
  await applyAllTopics(endpoints, log);
  const config = loadConfig({
    ...testStackEnvironment(process.env),
    NOWPAYMENTS_IPN_SECRET: testIpnSecret,
    KAFKA_REQUEST_TIMEOUT_MS: '2000',
  });
  webhook = await startWebhook({ config, endpoints, port: 0, log });
  database = await openTestDatabase();
});

afterAll(async () => {
  await webhook.stop();
  await broker.stop();
  await database.end();
  await rm(dataDirectory, { recursive: true, force: true });
});

it('keeps accepting payments durably while Kafka is stopped, and publishes each exactly once in effect when it is back', async () => {
  const before = finishedIpn();
  expect((await postIpn(webhook.url, before)).status).toBe(202);

  await broker.stop();
  const during = [finishedIpn(), finishedIpn(), finishedIpn()];
  for (const ipn of during) {
    const answer = await postIpn(webhook.url, ipn);
    expect(answer.status).toBe(202);
    expect(await answer.json()).toMatchObject({ status: 'accepted', paymentId: paymentIdOf(ipn) });
  }
  // NOWPayments retries one of them meanwhile: a duplicate, not a second payment.
  expect((await postIpn(webhook.url, during[0]!)).status).toBe(200);
  // Accepting needs PostgreSQL only, so the webhook stays in the load balancer.
  expect((await fetch(`${webhook.url}/ready`)).status).toBe(200);
  for (const ipn of during) {
    expect(await database.exists(sql.unsafe`SELECT 1 FROM webhook_payments WHERE payment_id = ${paymentIdOf(ipn)}`)).toBe(true);
    expect(await database.exists(sql.unsafe`SELECT 1 FROM outbox WHERE headers->>'payment-id' = ${paymentIdOf(ipn)} AND published_at IS NULL`)).toBe(true);
  }

  broker = await startBroker();
  // The relay backs off while the broker is down and publishes the backlog once it is back.
  await eventually(
    async () => {
      for (const ipn of during) {
        expect(await database.exists(sql.unsafe`SELECT 1 FROM outbox WHERE headers->>'payment-id' = ${paymentIdOf(ipn)} AND published_at IS NULL`)).toBe(false);
      }
    },
    { timeoutMs: 60_000 },
  );
  // One outbox row per payment, the retried IPN included: that row is the payment's one effect.
  for (const ipn of [before, ...during]) {
    const rows = await database.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM outbox WHERE headers->>'payment-id' = ${paymentIdOf(ipn)}`);
    expect(rows).toBe(1);
  }
  const records = await readTopic(endpoints, topicNames.paymentsReceived);
  for (const ipn of [before, ...during]) {
    const copies = records.filter((record) => (record.value as PaymentReceived).payment_id === paymentIdOf(ipn));
    expect(copies.length).toBeGreaterThanOrEqual(1);
    // Every copy is the same record, so a consumer's inbox drops all but the first by payment id.
    for (const copy of copies) {
      expect(copy.key).toBe(copies[0]?.key);
      expect(copy.raw?.equals(copies[0]?.raw ?? Buffer.alloc(0))).toBe(true);
    }
  }
}, 120_000);
