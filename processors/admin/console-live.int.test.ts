// Proves the console's live API through HTTP on the real stack, every JSON answer checked against
// the served OpenAPI document: the overview's shape and a figure that moves when a payment is
// accepted; the event stream's first `overview` event and the next one after that change; a dead
// letter listed decoded with its reason header, replayed back onto its topic and then shown as
// replayed; an offset reset previewed, confirmed and applied, refused for a live group (409), with
// a stale token (409), for an unknown topic or group (404) and for bad bodies (400).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { createIdempotentProducer, createKafkaClient, headerText, type Consumer, type Producer } from '../../core/kafka/kafka-client.ts';
import { createAvroSerde, createSchemaRegistryClient } from '../../schemas/registry.ts';
import { deadLetterTopicOf, topicNames } from '../../topics/topics.ts';
import { eventually } from '../../test/support/eventually.ts';
import { setGroupOffsets, withKafkaAdmin } from '../../test/support/consumer-groups.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { uniqueClientId, uniquePaymentId } from '../../test/support/ipn.ts';
import { openContractClient, type CheckedResponse, type ContractClient } from '../../test/support/openapi-contract.ts';
import { paymentReceivedRecord } from '../../test/support/payment-record.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { localHostWallet } from '../../stack/evm/local-wallets.ts';
import type { DeadLetterRecordItem, OffsetResetPlanBody, OverviewBody, ReplayView } from './api-schemas.ts';
import { startAdmin, type RunningAdmin } from './start-admin.ts';

const endpoints = inject('endpoints');
const adminToken = 'test-admin-token-console-live-0123456789';
// One stream at most, so the bound is tested with two; the local chain's host wallet, so its balances are known.
const config = loadConfig({ ...testStackEnvironment(process.env), ADMIN_TOKEN: adminToken, CONSOLE_EVENT_STREAMS_MAX: '1', HOST_WALLET_PRIVATE_KEY: localHostWallet.privateKey });
const log = createLogger({ name: 'console-live-test', level: 'silent' });
const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'console-live-test', log, requestTimeoutMs: 10_000 });
const authorization = { authorization: `Bearer ${adminToken}` };

let admin: RunningAdmin;
let database: DatabasePool;
let api: ContractClient;
let producer: Producer;

beforeAll(async () => {
  admin = await startAdmin({ config, endpoints, port: 0, log, cooldownSweepIntervalMs: 0, livenessCheckIntervalMs: 0, consumerLagIntervalMs: 0, consoleEventsIntervalMs: 100 });
  database = await openTestDatabase();
  api = await openContractClient(admin.url);
  producer = createIdempotentProducer(kafka);
  await producer.connect();
});

afterAll(async () => {
  await admin?.stop();
  await producer?.disconnect();
  await database?.end();
});

const get = (path: string): Promise<CheckedResponse> => api.fetch(path, { headers: authorization });
const post = (path: string, body: unknown): Promise<CheckedResponse> =>
  api.fetch(path, { method: 'POST', headers: { ...authorization, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** A payment as the webhook accepts it (its row, written in the webhook's transaction). */
async function acceptPayment(usd: string): Promise<void> {
  await database.query(sql.unsafe`
    INSERT INTO webhook_payments (payment_id, client_id, order_id, usd_amount, eth_amount, correlation_id, accepted_at)
    VALUES (${uniquePaymentId()}, ${uniqueClientId()}, ${randomUUID()}, ${usd}::numeric, 0.01, ${randomUUID()}, now())`);
}

/** Server-sent events of one stream, parsed as they arrive. */
async function openEvents(): Promise<{ next(name: string): Promise<unknown>; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(`${admin.url}/api/events`, { headers: authorization, signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  if (response.body === null) throw new Error('the event stream has no body');
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    async next(name) {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event === name && data !== undefined) return JSON.parse(data) as unknown;
          continue;
        }
        const chunk: { done: boolean; value?: Uint8Array | undefined } = await reader.read();
        if (chunk.done) throw new Error('the event stream ended');
        buffered += decoder.decode(chunk.value, { stream: true });
      }
    },
    close: () => controller.abort(),
  };
}

describe('GET /api/overview and GET /api/events', () => {
  it('shows the snapshot, and the accepted volume moves in it and on the stream', { timeout: 60_000 }, async () => {
    const before = (await get('/api/overview')).body as OverviewBody;
    expect(before.micro_batch.threshold_usd).toBe(new Decimal(config.MICRO_BATCH_THRESHOLD_USD).toFixed());
    expect(before.micro_batch.max_wait_seconds).toBe(config.MICRO_BATCH_MAX_WAIT / 1_000);
    expect(before.consumer_lag).not.toBeNull();
    expect(before.dead_letters?.map((entry) => entry.topic)).toContain(deadLetterTopicOf(topicNames.paymentsReceived));
    expect(before.host_wallet?.address.toLowerCase()).toBe(localHostWallet.address.toLowerCase());
    expect(new Decimal(before.host_wallet?.eth ?? '0').greaterThan(0)).toBe(true);
    expect(before.host_wallet).toMatchObject({ low_eth: config.HOST_WALLET_LOW_ETH, low_usdt: config.HOST_WALLET_LOW_USDT });

    const events = await openEvents();
    try {
      const first = (await events.next('overview')) as OverviewBody;
      const beyondBound = await get('/api/events');
      expect(beyondBound.status).toBe(503);
      expect(beyondBound.body).toMatchObject({ error: { code: 'too_many_streams' } });
      await acceptPayment('12.34');
      const after = (await get('/api/overview')).body as OverviewBody;
      expect(after.volume_today.payments).toBeGreaterThan(before.volume_today.payments);
      expect(new Decimal(after.volume_today.usd).minus(before.volume_today.usd).greaterThanOrEqualTo('12.34')).toBe(true);
      // Sent on change only: the next overview event is one where something moved.
      let changed = (await events.next('overview')) as OverviewBody;
      while (changed.volume_today.payments <= first.volume_today.payments) changed = (await events.next('overview')) as OverviewBody;
      expect(new Decimal(changed.volume_today.usd).greaterThan(first.volume_today.usd)).toBe(true);
    } finally {
      events.close();
    }
  });
});

describe('dead letters', () => {
  it('lists a dead letter decoded with its reasons, replays it onto its topic and shows it replayed', { timeout: 90_000 }, async () => {
    const serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
    const clientId = uniqueClientId();
    const paymentId = uniquePaymentId();
    const value = await serde.encode(topicNames.paymentsReceived, 'payment-received', paymentReceivedRecord(paymentId, clientId));
    const deadLetterTopic = deadLetterTopicOf(topicNames.paymentsReceived);
    await producer.send({ topic: deadLetterTopic, acks: -1, messages: [{ key: clientId, value, headers: { 'correlation-id': 'console-live', 'dlq-reason': 'client ünknown', 'dlq-rule': 'registered-client' } }] });

    const findOurs = async (): Promise<DeadLetterRecordItem> => {
      let cursor: string | null = null;
      for (;;) {
        const page: CheckedResponse = await get(`/api/dead-letters/${deadLetterTopic}/records?limit=200${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(page.status).toBe(200);
        const body = page.body as { items: DeadLetterRecordItem[]; next_cursor: string | null };
        const ours = body.items.find((item) => item.key === clientId);
        if (ours !== undefined) return ours;
        if (body.next_cursor === null) throw new Error('the planted dead letter is not listed');
        cursor = body.next_cursor;
      }
    };
    const listed = await findOurs();
    expect(listed).toMatchObject({ headers: { 'dlq-reason': 'client ünknown', 'dlq-rule': 'registered-client', 'correlation-id': 'console-live' }, decode_error: null, raw_base64: null, replayed: false });
    expect(listed.value).toMatchObject({ payment_id: paymentId });

    const notReplayed = async (): Promise<bigint> => {
      const depths = (await get('/api/dead-letters?limit=200')).body as { items: { topic: string; not_replayed: string }[] };
      return BigInt(depths.items.find((item) => item.topic === deadLetterTopic)?.not_replayed ?? 'x');
    };
    const depthBefore = await notReplayed();
    expect(depthBefore).toBeGreaterThanOrEqual(1n);
    const events = await openEvents();
    const accepted = await post(`/api/dead-letters/${deadLetterTopic}/replay`, { records: [{ partition: listed.partition, offset: listed.offset }] });
    expect(accepted.status).toBe(202);
    const replayId = (accepted.body as { replay_id: string }).replay_id;
    try {
      // The stream carries the replay's progress up to its end.
      let progress = (await events.next('replay')) as ReplayView;
      while (progress.replay_id !== replayId || progress.state === 'running') progress = (await events.next('replay')) as ReplayView;
      expect(progress).toMatchObject({ state: 'done', replayed: 1, total: 1 });
    } finally {
      events.close();
    }
    const done = await eventually(async () => {
      const view = (await get(`/api/replays/${replayId}`)).body as ReplayView;
      expect(view.state).not.toBe('running');
      return view;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    expect(done).toEqual({ replay_id: replayId, topic: deadLetterTopic, state: 'done', total: 1, replayed: 1, error: null });

    const back = (await readTopic(endpoints, topicNames.paymentsReceived)).filter((record) => record.raw?.equals(value) === true);
    expect(back).toHaveLength(1);
    expect(headerText(back[0]?.headers, 'replayed-from')).toBe(`${deadLetterTopic}/${listed.partition}/${listed.offset}`);
    expect(headerText(back[0]?.headers, 'dlq-reason')).toBeUndefined();
    expect((await findOurs()).replayed).toBe(true);
    expect(await notReplayed()).toBe(depthBefore - 1n);

    expect((await get('/api/dead-letters/no-such.dlq/records')).status).toBe(404);
    expect((await get(`/api/dead-letters/${deadLetterTopic}/records?cursor=bogus`)).status).toBe(400);
    expect((await get('/api/replays/unknown-replay')).status).toBe(404);
    expect((await post(`/api/dead-letters/${deadLetterTopic}/replay`, { records: [] })).status).toBe(400);
    expect((await post(`/api/dead-letters/${deadLetterTopic}/replay`, { all: false })).status).toBe(400);
    const pastEnd = await post(`/api/dead-letters/${deadLetterTopic}/replay`, { records: [{ partition: 0, offset: '999999999' }] });
    expect(pastEnd.status).toBe(404);
    expect(pastEnd.body).toMatchObject({ error: { field: 'records.0' } });
  });
});

describe('POST /api/consumer-groups/:group/offset-reset', () => {
  const topic = `console-reset-${randomUUID()}`;
  const group = `console-reset-group-${randomUUID()}`;

  beforeAll(async () => {
    await withKafkaAdmin(endpoints, (kafkaAdmin) => kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true }));
    await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3].map((index) => ({ key: `k${index}`, value: Buffer.from(`r${index}`), partition: index % 2 })) });
    await setGroupOffsets(endpoints, group, [{ topic, partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '1' }] }]);
  });

  afterAll(async () => {
    await withKafkaAdmin(endpoints, async (kafkaAdmin) => {
      await kafkaAdmin.deleteGroups([group]).catch(() => undefined);
      await kafkaAdmin.deleteTopics({ topics: [topic] });
    });
  });

  const reset = (body: unknown, groupId = group): Promise<CheckedResponse> => post(`/api/consumer-groups/${encodeURIComponent(groupId)}/offset-reset`, body);

  it('previews the reset, applies it with its token, and refuses a stale token', { timeout: 60_000 }, async () => {
    const dryRun = await reset({ topic, to: 'earliest', dry_run: true });
    expect(dryRun.status).toBe(200);
    const plan = dryRun.body as OffsetResetPlanBody;
    expect(plan).toMatchObject({
      group,
      topic,
      applied: false,
      partitions: [
        { partition: 0, current: '2', target: '0', delta: '-2' },
        { partition: 1, current: '1', target: '0', delta: '-1' },
      ],
    });
    const committedNow = async () =>
      withKafkaAdmin(endpoints, async (kafkaAdmin) => (await kafkaAdmin.fetchOffsets({ groupId: group, topics: [topic] }))[0]?.partitions.map((entry) => [entry.partition, entry.offset]).sort());
    expect(await committedNow()).toEqual([[0, '2'], [1, '1']]);

    const applied = await reset({ topic, to: 'earliest', dry_run: false, confirm_token: plan.confirm_token });
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ applied: true, partitions: plan.partitions });
    expect(await committedNow()).toEqual([[0, '0'], [1, '0']]);

    // The plan the token was for (from 2 and 1) is not the plan now (from 0 and 0).
    const stale = await reset({ topic, to: 'latest', dry_run: false, confirm_token: plan.confirm_token });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: { code: 'plan_changed', field: 'confirm_token' } });
    expect(await committedNow()).toEqual([[0, '0'], [1, '0']]);
  });

  it('refuses a live group, an unknown topic or group, and bad bodies', { timeout: 60_000 }, async () => {
    expect((await reset({ topic: `no-such-topic-${randomUUID()}`, to: 'earliest', dry_run: true })).body).toMatchObject({ error: { code: 'topic_not_found', field: 'topic' } });
    expect((await reset({ topic, to: 'earliest', dry_run: true }, `no-such-group-${randomUUID()}`)).body).toMatchObject({ error: { code: 'group_not_found', field: 'group' } });
    for (const [body, field] of [
      [{ to: 'earliest', dry_run: true }, 'topic'],
      [{ topic, to: 'yesterday', dry_run: true }, 'to'],
      [{ topic, to: { timestamp: '2026-02-30' }, dry_run: true }, 'to'],
      [{ topic, to: 'earliest', dry_run: false }, 'confirm_token'],
      [{ topic, to: 'earliest', dry_run: 'yes' }, 'dry_run'],
      [{ topic, to: 'earliest', dry_run: true, extra: 1 }, 'extra'],
    ] as const) {
      const refused = await reset(body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body).toMatchObject({ error: { field } });
    }
    expect((await reset('{not json')).status).toBe(400);

    const liveGroup = `console-live-group-${randomUUID()}`;
    const consumer: Consumer = kafka.consumer({ groupId: liveGroup, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let joined = false;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true;
      });
      await consumer.run({ eachMessage: () => Promise.resolve() });
      await eventually(() => expect(joined).toBe(true), { timeoutMs: 30_000, intervalMs: 100 });
      const refused = await reset({ topic, to: 'earliest', dry_run: true }, liveGroup);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ error: { code: 'group_active', field: 'group' } });
    } finally {
      await consumer.disconnect();
      await withKafkaAdmin(endpoints, (kafkaAdmin) => kafkaAdmin.deleteGroups([liveGroup]).catch(() => undefined));
    }
  });
});

describe('shutdown', () => {
  it('ends the open event streams, so the admin process drains', { timeout: 60_000 }, async () => {
    const events = await openEvents();
    await events.next('overview');
    await admin.stop();
    await expect(events.next('overview')).rejects.toThrow('the event stream ended');
  });
});
