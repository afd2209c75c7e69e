// Proves that while Kafka is down the webhook still accepts payments (PostgreSQL is the durable
// write-ahead), and that each is published exactly once when the broker is back: a real broker of
// its own is stopped mid-test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
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

it('keeps accepting payments durably while Kafka is stopped, and publishes each exactly once when it is back', async () => {
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
  const records = await readTopic(endpoints, topicNames.paymentsReceived);
  const ids = records.map((record) => (record.value as PaymentReceived).payment_id);
  for (const ipn of [before, ...during]) expect(ids.filter((id) => id === paymentIdOf(ipn))).toHaveLength(1);
}, 120_000);
