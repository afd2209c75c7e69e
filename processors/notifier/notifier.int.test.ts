// Proves the notifier through its public interfaces on the real stack (the `alerts` topic in,
// HTTP receivers and `alerts.dlq` out, notifier_deliveries in PostgreSQL): one alert event goes to
// three real local receivers — a healthy one gets it exactly once with its idempotency key, one that
// answers 500 twice gets it on the third attempt, one that always answers 503 gets its attempts and
// the delivery is dead-lettered with the reason. Then the notifier restarts and its group replays
// the alert from its offset: the two receivers that got it get nothing again, and only the
// dead-lettered URL is tried again (a replay of its dead letter asks for exactly that).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { headerText } from '../../core/kafka/kafka-client.ts';
import type { RunningConsumerProcess } from '../../core/processing/consumer-process.ts';
import type { Alert } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, topicNames } from '../../topics/topics.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { setGroupOffsets, skipGroupToLatest } from '../../test/support/consumer-groups.ts';
import { openTopicProducer, type TopicProducer } from '../../test/support/topic-producer.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { notifierConsumerGroup, startNotifier } from './start-notifier.ts';

const endpoints = inject('endpoints');
const log = createLogger({ name: 'notifier-test', level: 'silent' });
const wait = { timeoutMs: 30_000, intervalMs: 100 };

interface Receipt {
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  readonly body: { text: string; dedupe_key: string; severity: string; kind: string; subject: string; detail: string; since: string };
  readonly status: number;
}

/** Local webhook receivers: /ok answers 200, /flaky 500 to the first two POSTs of each event, /down always 503. */
function startReceivers(): Promise<{ server: Server; url: string; receipts: Receipt[] }> {
  const receipts: Receipt[] = [];
  const flakyCounts = new Map<string, number>();
  const read = async (request: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server = createServer((request, response) => {
    void read(request).then((text) => {
      const body = JSON.parse(text) as Receipt['body'];
      const path = request.url ?? '';
      let status = 200;
      if (path === '/flaky') {
        const seen = (flakyCounts.get(body.dedupe_key) ?? 0) + 1;
        flakyCounts.set(body.dedupe_key, seen);
        status = seen <= 2 ? 500 : 200;
      } else if (path === '/down') status = 503;
      const key = request.headers['x-idempotency-key'];
      receipts.push({ path, idempotencyKey: typeof key === 'string' ? key : undefined, body, status });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, receipts }));
  });
}

const deliveryRow = z.object({ url: z.string(), state: z.string(), attempts: z.number().int(), last_error: z.string().nullable() });

let receivers: Awaited<ReturnType<typeof startReceivers>>;
let config: Config;
let notifier: RunningConsumerProcess | undefined;
let producer: TopicProducer;
let database: DatabasePool;

beforeAll(async () => {
  receivers = await startReceivers();
  config = loadConfig({
    ...testStackEnvironment(process.env),
    NOTIFIER_WEBHOOK_URLS: ['ok', 'flaky', 'down'].map((path) => `${receivers.url}/${path}`).join(','),
    NOTIFIER_ATTEMPTS_MAX: '3',
    NOTIFIER_BACKOFF_INITIAL: '20ms',
    NOTIFIER_BACKOFF_MAX: '40ms',
    NOTIFIER_POLL_INTERVAL: '20ms',
    NOTIFIER_REQUEST_TIMEOUT: '5s',
  });
  // Only this file's alerts: the group starts at the end of `alerts`.
  await skipGroupToLatest(endpoints, notifierConsumerGroup, [topicNames.alerts]);
  notifier = await startNotifier({ config, endpoints, port: 0, log });
  producer = await openTopicProducer(endpoints);
  database = await openTestDatabase();
});

afterAll(async () => {
  await notifier?.stop();
  await producer?.close();
  await database?.end();
  receivers?.server.closeAllConnections();
  await new Promise((resolve) => receivers?.server.close(resolve));
});

const alertId = `payout_stuck:batch-${randomUUID()}:1`;
const alert: Alert = {
  alert_id: alertId,
  finding_id: alertId.replace(/:1$/, ''),
  kind: 'payout_stuck',
  subject: alertId.split(':')[1] ?? '',
  severity: 'CRITICAL',
  status: 'RAISED',
  detail: 'payout batch still swapping after 1h',
  first_seen: new Date('2026-12-03T08:00:00.000Z'),
  emitted_at: new Date('2026-12-03T09:00:00.000Z'),
};

const receiptsOf = (path: string): Receipt[] => receivers.receipts.filter((receipt) => receipt.path === path && receipt.body.dedupe_key === alertId);

async function deliveries(): Promise<Record<string, z.infer<typeof deliveryRow>>> {
  const rows = await database.any(sql.type(deliveryRow)`SELECT url, state, attempts, last_error FROM notifier_deliveries WHERE alert_id = ${alertId}`);
  return Object.fromEntries(rows.map((row) => [new URL(row.url).pathname, row]));
}

async function deadLetters(): Promise<{ reason: string | undefined; rule: string | undefined; url: string | undefined; consumer: string | undefined }[]> {
  const records = await readTopic(endpoints, deadLetterTopicOf(topicNames.alerts));
  return records
    .filter((record) => headerText(record.headers, 'dlq-message-id') === alertId)
    .map((record) => ({
      reason: headerText(record.headers, 'dlq-reason'),
      rule: headerText(record.headers, 'dlq-rule'),
      url: headerText(record.headers, 'dlq-url'),
      consumer: headerText(record.headers, 'dlq-consumer'),
    }));
}

describe('the notifier', () => {
  it('delivers a raised alert once, retries a receiver that answers 500, and dead-letters one that never answers 2xx', { timeout: 60_000 }, async () => {
    await producer.send(topicNames.alerts, 'alert', alert.finding_id, alert);

    const rows = await eventually(async () => {
      const found = await deliveries();
      expect(found['/ok']?.state).toBe('delivered');
      expect(found['/flaky']?.state).toBe('delivered');
      expect(found['/down']?.state).toBe('dead_lettered');
      return found;
    }, wait);
    expect(rows['/ok']).toMatchObject({ attempts: 1 });
    expect(rows['/flaky']).toMatchObject({ attempts: 3 });
    expect(rows['/down']).toMatchObject({ attempts: 3, last_error: 'no delivery after 3 attempts; last: HTTP 503' });

    // The healthy receiver got it exactly once, Slack-compatible, with the event's identity.
    const ok = receiptsOf('/ok');
    expect(ok).toHaveLength(1);
    expect(ok[0]?.idempotencyKey).toBe(alertId);
    expect(ok[0]?.body).toMatchObject({ dedupe_key: alertId, severity: 'CRITICAL', kind: 'payout_stuck', subject: alert.subject, detail: alert.detail, since: '2026-12-03T08:00:00.000Z' });
    expect(ok[0]?.body.text).toContain(`[CRITICAL] payout_stuck raised: ${alert.subject}`);
    expect(receiptsOf('/flaky').map((receipt) => receipt.status)).toEqual([500, 500, 200]);
    expect(receiptsOf('/down').map((receipt) => receipt.status)).toEqual([503, 503, 503]);

    const letters = await eventually(async () => {
      const found = await deadLetters();
      expect(found).toHaveLength(1);
      return found;
    }, wait);
    expect(letters[0]).toEqual({ reason: 'no delivery after 3 attempts; last: HTTP 503', rule: 'webhook-delivery', url: `${receivers.url}/…`, consumer: 'notifier' });

    const metrics = await (await fetch(`${notifier!.url}/metrics`)).text();
    expect(metrics).toMatch(/notifier_deliveries_total\{outcome="dead_lettered",service="notifier"\} [1-9]/);
  });

  it('sends nothing again after a restart and a replay of the alert; only the dead-lettered URL is tried again', { timeout: 60_000 }, async () => {
    await notifier!.stop();
    notifier = undefined;
    const record = (await readTopic(endpoints, topicNames.alerts)).find((candidate) => (candidate.value as Alert).alert_id === alertId);
    expect(record).toBeDefined();
    await setGroupOffsets(endpoints, notifierConsumerGroup, [{ topic: topicNames.alerts, partitions: [{ partition: record!.partition, offset: record!.offset }] }]);
    notifier = await startNotifier({ config, endpoints, port: 0, log });

    // The replayed alert is consumed again (its dead-lettered delivery released the inbox claim):
    // the dead-lettered URL gets its attempts and a second dead letter; the others keep their rows.
    await eventually(async () => {
      expect(await deadLetters()).toHaveLength(2);
    }, wait);
    const rows = await deliveries();
    expect(rows['/ok']).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(rows['/flaky']).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(rows['/down']).toMatchObject({ state: 'dead_lettered', attempts: 3 });
    // Nothing of this alert is pending, so nothing more can be sent for it.
    expect(receiptsOf('/ok')).toHaveLength(1);
    expect(receiptsOf('/flaky')).toHaveLength(3);
    expect(receiptsOf('/down')).toHaveLength(6);
  });
});
