// The proof on a real cluster (issue 13, item 5): the whole pipeline, two instances of every
// processor, on a native three-broker KRaft cluster whose topics have replication factor 3 and
// min.insync.replicas 2, applied by `topics apply` with the per-environment settings. Under a steady
// open-loop stream of signed IPNs, one broker (the leader of most payments-received partitions) is
// SIGKILLed and restarted on its data, and a router instance is SIGKILLed and restarted. Afterwards
// every payment is in the ledger once, credited once and paid once (the client wallets on the chain
// hold exactly what the finished payout batches paid), and reconciliation is clean. It prints how
// long the pipeline stalled around the broker loss.
//
// Isolation: its own Kafka cluster, and its own database (CREATE DATABASE + migrations) on the test
// stack's PostgreSQL, because the inbox deduplicates by topic, partition and offset: a fresh
// cluster's offsets start again at 0 and would collide with the shared database's rows of the
// shared broker. So reconciliation runs over this file's database alone, unscoped. The schema
// registry, the local EVM and the ChangeNow simulator are the test stack's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { applyAllTopics } from '../cli/prepare.ts';
import { loadConfig } from '../core/config.ts';
import { ConfigResourceTypes } from '../core/kafka/kafka-client.ts';
import { createLogger } from '../core/logger.ts';
import { Decimal, toBaseUnits } from '../core/money.ts';
import { decimalColumn } from '../db/column-types.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { createDatabasePool } from '../db/pool.ts';
import { findViolations, formatViolations } from '../db/reconciliation.ts';
import { formatOrderId } from '../processors/webhook/order-id.ts';
import type { PayoutCompleted } from '../schemas/generated/records.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { startKafkaCluster, type KafkaCluster } from '../stack/kafka/start-kafka-cluster.ts';
import { replicationSettingsOf } from '../topics/topic-plan.ts';
import { topicDefinitions, topicNames } from '../topics/topics.ts';
import { withKafkaAdmin } from './support/consumer-groups.ts';
import { eventually } from './support/eventually.ts';
import { finishedIpn, jsonNumber, paymentIdOf, postIpn, uniqueClientId, type IpnFields } from './support/ipn.ts';
import { ethBalanceOf, freshAddress } from './support/local-evm.ts';
import { startProcessorProcess, testAdminToken, type ProcessorProcess } from './support/processor-process.ts';
import { readTopic } from './support/topic-records.ts';
import { pipelineProcessorNames, pipelineProcessorPorts, wholePipelineEnvironment, type PipelineProcessorName } from './support/whole-pipeline.ts';

const repositoryRoot = fileURLToPath(new URL('../', import.meta.url));
const log = createLogger({ name: 'broker-failover-test', level: process.env['TEST_STACK_LOG_LEVEL'] ?? 'warn' });
const ethUsd = new Decimal('3000');

/** The stream: open loop, a payment every 1000/rate ms whatever the answers, alternating between the two webhooks. */
const paymentsPerSecond = 12;
const streamMs = 40_000;
const routerKillAtMs = 6_000;
const brokerKillAtMs = 12_000;
const brokerDownMs = 13_000;
const readyTimeoutMs = 200_000;

const stackEndpoints = inject('endpoints');
let directory: string;
let cluster: KafkaCluster;
let ownDatabaseName: string;
let database: DatabasePool;
let endpoints: StackEndpoints;
const instances = new Map<string, ProcessorProcess>();
/** Set when the scenario fails: its database is kept (and named) for a post-mortem instead of dropped. */
let keepDatabase = false;

const environmentOf = (databaseUrl: string, brokers: readonly string[]): Record<string, string> => ({
  ...wholePipelineEnvironment,
  KAFKA_BROKERS: brokers.join(','),
  DATABASE_URL: databaseUrl,
  // Batches close on $400 or after 3 s, so a conversion runs every second or two under the stream.
  MICRO_BATCH_THRESHOLD_USD: '400',
  MICRO_BATCH_MAX_WAIT: '3s',
  // Credits below a client's threshold when the stream ends are paid once their oldest is 15 s old.
  PAYOUT_MAX_AGE: '15s',
});
let processorEnvironment: Record<string, string>;

async function startInstance(name: PipelineProcessorName, index: number, waitReady = true): Promise<ProcessorProcess> {
  const started = await startProcessorProcess(name, pipelineProcessorPorts[name], { environment: processorEnvironment, waitReady: false });
  instances.set(`${name}-${index}`, started);
  if (!waitReady) return started;
  // As waitUntilReady, but a start that never gets ready names the process and what /ready said.
  let last = 'no answer';
  await eventually(
    async () => {
      const response = await fetch(`${started.url}/ready`).catch((error: unknown) => error as Error);
      if (response instanceof Error) last = response.message;
      else {
        last = `${response.status} ${await response.text()}`;
        if (response.status === 200) return;
      }
      throw new Error(`${name}-${index} not ready within ${readyTimeoutMs} ms; last /ready: ${last}`);
    },
    { timeoutMs: readyTimeoutMs, intervalMs: 250 },
  );
  return started;
}

const instance = (name: PipelineProcessorName, index: number): ProcessorProcess => {
  const running = instances.get(`${name}-${index}`);
  if (running === undefined) throw new Error(`${name}-${index} is not running`);
  return running;
};

beforeAll(async () => {
  const setupStartedAt = Date.now();
  directory = await mkdtemp(path.join(tmpdir(), 'broker-failover-'));
  ownDatabaseName = `broker_failover_${process.pid}_${Date.now()}`;
  const shared = await createDatabasePool(stackEndpoints.databaseUrl);
  const ownDatabaseUrl = (() => {
    const url = new URL(stackEndpoints.databaseUrl);
    url.pathname = `/${ownDatabaseName}`;
    return url.toString();
  })();
  const [started] = await Promise.all([
    startKafkaCluster({ dataDirectory: path.join(directory, 'kafka'), cacheDirectory: path.join(repositoryRoot, '.cache', 'kafka-libs'), log }),
    (async () => {
      await shared.query(sql.unsafe`CREATE DATABASE ${sql.identifier([ownDatabaseName])}`);
      await migrateDatabase({ databaseUrl: ownDatabaseUrl, log });
    })().finally(() => shared.end()),
  ]);
  cluster = started;
  endpoints = { ...stackEndpoints, kafkaBrokers: cluster.brokers, databaseUrl: ownDatabaseUrl };
  database = await createDatabasePool(ownDatabaseUrl);
  // `topics apply` as the production Job runs it: the environment's replication settings.
  process.stdout.write(`${await applyAllTopics(endpoints, log, replicationSettingsOf(loadConfig({ TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '2' })))}\n`);
  processorEnvironment = environmentOf(ownDatabaseUrl, cluster.brokers);
  // The first instances, then the second: fourteen processes compiling through tsx at once on two
  // cores take longer than seven and seven.
  const startingAt = Date.now();
  await Promise.all(pipelineProcessorNames.map((name) => startInstance(name, 0)));
  const firstReadyMs = Date.now() - startingAt;
  await Promise.all(pipelineProcessorNames.map((name) => startInstance(name, 1)));
  console.log(`broker failover setup: cluster, database and topics in ${((startingAt - setupStartedAt) / 1_000).toFixed(1)} s; first instances ready in ${(firstReadyMs / 1_000).toFixed(1)} s, second in ${((Date.now() - startingAt - firstReadyMs) / 1_000).toFixed(1)} s`);
}, 480_000);

afterAll(async () => {
  await Promise.all([...instances.values()].map((running) => running.kill()));
  await database?.end();
  await cluster?.stop();
  if (ownDatabaseName !== undefined && keepDatabase) console.log(`broker failover: database ${ownDatabaseName} kept for a post-mortem (DROP DATABASE it when done)`);
  else if (ownDatabaseName !== undefined) {
    const shared = await createDatabasePool(stackEndpoints.databaseUrl);
    await shared.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([ownDatabaseName])} WITH (FORCE)`).finally(() => shared.end());
  }
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
}, 60_000);

it('creates every topic with replication factor 3 and min.insync.replicas 2 on the three brokers', async () => {
  await withKafkaAdmin(endpoints, async (admin) => {
    expect((await admin.describeCluster()).brokers).toHaveLength(3);
    const names = topicDefinitions.map((definition) => definition.name);
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    for (const topic of topics) for (const partition of topic.partitions) expect(partition.replicas, `${topic.name}-${partition.partitionId}`).toHaveLength(3);
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })) });
    for (const resource of described.resources) {
      expect(resource.configEntries.find((entry) => entry.configName === 'min.insync.replicas')?.configValue, resource.resourceName).toBe('2');
    }
  });
});

interface Sent {
  readonly paymentId: string;
  readonly clientId: string;
  readonly ipn: IpnFields;
  readonly webhook: number;
  readonly sentAt: number;
  answeredAt: number;
  status: number;
}

const clients = Array.from({ length: 4 }, () => ({ clientId: uniqueClientId(), wallet: freshAddress() }));

async function adminPut(path: string, body: unknown): Promise<number> {
  const response = await fetch(`${instance('admin', 0).url}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${testAdminToken}`, 'content-type': 'application/json', 'x-actor-note': 'failover@example.com' },
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  return response.status;
}

function ipnOf(index: number): { ipn: IpnFields; clientId: string } {
  const { clientId } = clients[index % clients.length]!;
  const usd = String(10 + ((index * 7) % 31)); // $10 – $40
  const eth = new Decimal(usd).dividedBy(ethUsd).toDecimalPlaces(12, Decimal.ROUND_DOWN).toFixed();
  const ipn = finishedIpn({
    order_id: formatOrderId({ clientId, userId: String(9_000 + index), subscriptionId: String(index) }),
    price_amount: jsonNumber(usd),
    pay_amount: jsonNumber(eth),
    actually_paid: jsonNumber(eth),
    outcome_amount: jsonNumber(eth),
  });
  return { ipn, clientId };
}

/** The longest pause between consecutive instants, and where it began. */
function longestGap(instants: readonly number[]): { gapMs: number; fromMs: number } {
  const sorted = [...instants].sort((a, b) => a - b);
  let best = { gapMs: 0, fromMs: sorted[0] ?? 0 };
  for (let index = 1; index < sorted.length; index += 1) {
    const gapMs = sorted[index]! - sorted[index - 1]!;
    if (gapMs > best.gapMs) best = { gapMs, fromMs: sorted[index - 1]! };
  }
  return best;
}

/** For a failure message: how far the payments not yet in the ledger got (accepted, published, consumed). */
async function whereStuck(paymentIds: readonly string[]): Promise<string> {
  const row = await database.one(sql.type(z.object({ accepted: z.number(), unrouted: z.number(), unpublished: z.number() }))`
    SELECT (SELECT count(*)::int FROM webhook_payments WHERE payment_id = ANY(${sql.array([...paymentIds], 'text')})) AS accepted,
           (SELECT count(*)::int FROM webhook_payments w WHERE w.payment_id = ANY(${sql.array([...paymentIds], 'text')})
              AND NOT EXISTS (SELECT 1 FROM payment_ledger l WHERE l.payment_id = w.payment_id)) AS unrouted,
           (SELECT count(*)::int FROM outbox WHERE published_at IS NULL) AS unpublished`);
  const lag = await withKafkaAdmin(endpoints, async (admin) => {
    const [committed] = await admin.fetchOffsets({ groupId: 'router', topics: [topicNames.paymentsReceived] });
    const ends = await admin.fetchTopicOffsets(topicNames.paymentsReceived);
    const { groups } = await admin.describeGroups(['router']);
    const behind = ends.map((end) => `${end.partition}:${committed?.partitions.find((partition) => partition.partition === end.partition)?.offset ?? '?'}/${end.high}`);
    return `router group ${groups[0]?.state ?? '?'} with ${groups[0]?.members.length ?? 0} members, committed/end per partition ${behind.join(' ')}`;
  }).catch((error: unknown) => `router group lag unreadable: ${String(error)}`);
  return `${row.accepted} of ${paymentIds.length} in webhook_payments, ${row.unrouted} of them not in the ledger; ${row.unpublished} outbox rows unpublished; ${lag}\n${await payoutStage(paymentIds)}\n${await groupLags()}`;
}

/** For a failure message: where the routed but unpaid money waits (ledger, batches, commands, transfers, holds, findings). */
async function payoutStage(paymentIds: readonly string[]): Promise<string> {
  const ids = sql.array([...paymentIds], 'text');
  const counts = await database.any(sql.type(z.object({ what: z.string(), n: z.number() }))`
    SELECT 'ledger ' || state || CASE WHEN paid_out_at IS NULL THEN ' unpaid' ELSE ' paid' END AS what, count(*)::int AS n FROM payment_ledger WHERE payment_id = ANY(${ids}) GROUP BY 1
    UNION ALL SELECT 'credit ' || CASE WHEN paid_out_at IS NOT NULL THEN 'paid' WHEN payout_batch_id IS NULL THEN 'unbatched' ELSE 'batched unpaid' END, count(*)::int FROM usdt_credits WHERE payment_id = ANY(${ids}) GROUP BY 1
    UNION ALL SELECT 'conversion batch ' || state, count(*)::int FROM conversion_batches GROUP BY 1
    UNION ALL SELECT 'payout batch ' || state, count(*)::int FROM payout_batches GROUP BY 1
    UNION ALL SELECT 'swap command ' || command_kind || ' ' || state, count(*)::int FROM swap_commands GROUP BY 1
    UNION ALL SELECT 'chain transfer ' || state, count(*)::int FROM chain_transfers GROUP BY 1
    UNION ALL SELECT 'hold ' || state, count(*)::int FROM payout_group_holds GROUP BY 1
    UNION ALL SELECT 'open finding ' || kind, count(*)::int FROM liveness_findings WHERE cleared_at IS NULL GROUP BY 1
    ORDER BY 1`);
  const waiting = await database.any(sql.type(z.object({ line: z.string() }))`
    SELECT 'payout batch ' || batch_id || ' ' || client_id || ' ' || state || ' since ' || created_at::text AS line FROM payout_batches WHERE state NOT IN ('finished', 'failed')
    UNION ALL SELECT 'conversion batch ' || batch_id || ' ' || state || ' since ' || created_at::text FROM conversion_batches WHERE state NOT IN ('finished', 'failed')
    UNION ALL SELECT 'swap command ' || command_id || ' ' || state || ' next ' || next_attempt_at::text || ' error ' || coalesce(last_error, '-') FROM swap_commands WHERE state NOT IN ('finished', 'failed')
    UNION ALL SELECT 'chain transfer ' || transfer_id || ' ' || state || ' for ' || command_id FROM chain_transfers WHERE state NOT IN ('confirmed', 'failed', 'reverted', 'replaced')
    UNION ALL SELECT 'unbatched credits of ' || client_id || ': ' || count(*)::text || ', oldest ' || min(credited_at)::text FROM usdt_credits WHERE paid_out_at IS NULL AND payout_batch_id IS NULL GROUP BY client_id
    UNION ALL SELECT 'finding ' || kind || ' ' || subject || ': ' || detail FROM liveness_findings WHERE cleared_at IS NULL
    LIMIT 40`).catch((error: unknown) => [{ line: `waiting rows unreadable: ${String(error)}` }]);
  const stuckBatches = await database.any(sql.type(z.object({ kind: z.string(), batch_id: z.string() }))`
    (SELECT 'conversion' AS kind, batch_id FROM conversion_batches WHERE state NOT IN ('finished', 'failed') LIMIT 3)
    UNION ALL (SELECT 'payout', batch_id FROM payout_batches WHERE state NOT IN ('finished', 'failed') LIMIT 3)`);
  const traces = await Promise.all(stuckBatches.map((batch) => traceOf(batch.kind, batch.batch_id)));
  return `payout stage: ${counts.map((row) => `${row.what}: ${row.n}`).join('; ')}\n  ${waiting.map((row) => row.line).join('\n  ')}\n${traces.join('\n')}`;
}

/** Where one conversion or payout batch's records went: its outbox rows, its records on the cluster, and which consumers claimed them. */
async function traceOf(kind: string, batchId: string): Promise<string> {
  const pattern = `%${batchId}%`;
  const outboxRows = await database.any(sql.type(z.object({ line: z.string() }))`
    SELECT 'outbox ' || id::text || ' ' || topic || ' key ' || coalesce(message_key, '-') || ' created ' || created_at::text || ' published ' || coalesce(published_at::text, 'no') AS line
    FROM outbox WHERE message_key LIKE ${pattern} OR correlation_id LIKE ${pattern} ORDER BY id`);
  const claims = await database.any(sql.type(z.object({ line: z.string() }))`
    SELECT 'claimed by ' || consumer || ' ' || message_id || ' from ' || topic || ' at ' || processed_at::text AS line
    FROM processed_messages WHERE message_id LIKE ${pattern} ORDER BY processed_at`);
  const commands = await database.any(sql.type(z.object({ line: z.string() }))`
    SELECT 'command ' || command_id || ' ' || state AS line FROM swap_commands WHERE command_id LIKE ${pattern} OR correlation_id LIKE ${pattern}`);
  const onCluster: string[] = [];
  for (const topic of [topicNames.conversionRequests, topicNames.payoutRequests, topicNames.swapEvents, topicNames.transferRequests, topicNames.chainEvents]) {
    const records = await readTopic(endpoints, topic).catch(() => []);
    for (const record of records) {
      const text = `${record.key ?? ''} ${JSON.stringify(record.value, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))} ${Object.entries(record.headers).map(([name, value]) => `${name}=${String(value)}`).join(' ')}`;
      if (text.includes(batchId)) onCluster.push(`record ${topic}-${record.partition}@${record.offset} key ${record.key ?? '-'}`);
    }
  }
  return `  trace of ${kind} batch ${batchId}:\n    ${[...outboxRows, ...commands, ...claims].map((row) => row.line).concat(onCluster).join('\n    ') || 'nothing'}`;
}

/** For a failure message: every consumer group's state, members and lag per topic on the cluster. */
async function groupLags(): Promise<string> {
  return withKafkaAdmin(endpoints, async (admin) => {
    const { groups } = await admin.listGroups();
    const ids = groups.map((group) => group.groupId).sort();
    const described = new Map((await admin.describeGroups(ids)).groups.map((group) => [group.groupId, group]));
    const lines: string[] = [];
    for (const groupId of ids) {
      const offsets = await admin.fetchOffsets({ groupId });
      const behind: string[] = [];
      for (const { topic, partitions } of offsets) {
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((end) => [end.partition, BigInt(end.high)]));
        const lag = partitions.reduce((sum, partition) => sum + ((ends.get(partition.partition) ?? 0n) - (partition.offset === '-1' ? 0n : BigInt(partition.offset))), 0n);
        behind.push(`${topic} ${lag}`);
      }
      const group = described.get(groupId);
      lines.push(`  ${groupId} ${group?.state ?? '?'} ${group?.members.length ?? 0} members; lag ${behind.join(', ') || 'none committed'}`);
    }
    return `consumer groups:\n${lines.join('\n')}`;
  }).catch((error: unknown) => `consumer groups unreadable: ${String(error)}`);
}

const ledgerRow = z.object({ payment_id: z.string(), state: z.string(), routed_at: z.date().nullable(), paid_out_at: z.date().nullable() });
const creditRow = z.object({ payment_id: z.string(), payout_batch_id: z.string().nullable(), paid_out_at: z.date().nullable() });
const payoutRow = z.object({ batch_id: z.string(), client_id: z.string(), state: z.string(), payout_amount: decimalColumn.nullable() });

it('credits and pays every payment exactly once through a broker SIGKILL and a router SIGKILL, and prints the stall', async () => {
  for (const { clientId, wallet } of clients) {
    expect(await adminPut(`/api/clients/${clientId}`, { strategy: 'threshold', threshold_usd: '1000', wallet_address: wallet, payout_currency: 'eth', payout_network: 'eth' })).toBe(201);
  }
  const { brokerIndex, leaderships } = await withKafkaAdmin(endpoints, async (admin) => {
    const [payments] = (await admin.fetchTopicMetadata({ topics: [topicNames.paymentsReceived] })).topics;
    const led = new Map<number, number>();
    for (const partition of payments!.partitions) led.set(partition.leader, (led.get(partition.leader) ?? 0) + 1);
    const [leader, count] = [...led.entries()].sort((a, b) => b[1] - a[1])[0]!;
    return { brokerIndex: cluster.nodeIndexOf(leader), leaderships: count };
  });

  const sent: Sent[] = [];
  const answers: Promise<void>[] = [];
  const post = (entry: Sent): Promise<void> =>
    postIpn(instance('webhook', entry.webhook).url, entry.ipn).then(
      async (response) => {
        await response.body?.cancel();
        entry.status = response.status;
        entry.answeredAt = Date.now();
      },
      () => {
        entry.status = 0;
        entry.answeredAt = Date.now();
      },
    );
  const startedAt = Date.now();
  const at = (offsetMs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + offsetMs - Date.now())));
  let brokerKilledAt = 0;
  let brokerRestartedAt = 0;
  let brokerRestartMs = 0;
  const faults = (async () => {
    await at(routerKillAtMs);
    // A crash mid-stream; it comes back at once, without waiting for it, as a restarted pod would.
    await instance('router', 0).kill();
    await startInstance('router', 0, false);
    await at(brokerKillAtMs);
    brokerKilledAt = Date.now();
    await cluster.kill(brokerIndex);
    await at(brokerKillAtMs + brokerDownMs);
    const restarting = Date.now();
    await cluster.restart(brokerIndex);
    brokerRestartedAt = Date.now();
    brokerRestartMs = brokerRestartedAt - restarting;
  })();

  const count = Math.floor((streamMs / 1_000) * paymentsPerSecond);
  for (let index = 0; index < count; index += 1) {
    await at((index * 1_000) / paymentsPerSecond);
    const { ipn, clientId } = ipnOf(index);
    const entry: Sent = { paymentId: paymentIdOf(ipn), clientId, ipn, webhook: index % 2, sentAt: Date.now(), answeredAt: 0, status: -1 };
    sent.push(entry);
    answers.push(post(entry));
  }
  await Promise.all(answers);
  await faults;

  // NOWPayments sends an IPN again until it is answered 2xx; so does this sender, after the stream.
  const refused = sent.filter((entry) => entry.status < 200 || entry.status >= 300);
  const refusedStatuses = refused.map((entry) => entry.status);
  for (const entry of refused) {
    await eventually(
      async () => {
        await post(entry);
        // 202 when new; a duplicate of one the webhook did store before it answered is 2xx too.
        expect(entry.status >= 200 && entry.status < 300, `answered ${entry.status}`).toBe(true);
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  }
  const paymentIds = sent.map((entry) => entry.paymentId);

  // Every payment routed, converted, credited and paid out.
  await eventually(
    async () => {
      const row = await database.one(sql.type(z.object({ routed: z.number(), paid: z.number(), credits: z.number(), credits_paid: z.number() }))`
        SELECT (SELECT count(*)::int FROM payment_ledger WHERE payment_id = ANY(${sql.array(paymentIds, 'text')})) AS routed,
               (SELECT count(*)::int FROM payment_ledger WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}) AND state = 'converted' AND paid_out_at IS NOT NULL) AS paid,
               (SELECT count(*)::int FROM usdt_credits WHERE payment_id = ANY(${sql.array(paymentIds, 'text')})) AS credits,
               (SELECT count(*)::int FROM usdt_credits WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}) AND paid_out_at IS NOT NULL) AS credits_paid`);
      expect(row).toEqual({ routed: paymentIds.length, paid: paymentIds.length, credits: paymentIds.length, credits_paid: paymentIds.length });
    },
    { timeoutMs: 150_000, intervalMs: 500 },
  ).catch(async (error: unknown) => {
    keepDatabase = true;
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nwhere the missing payments are: ${await whereStuck(paymentIds)}`);
  });

  // In the ledger once, credited once, each credit in one finished payout batch.
  const ledger = await database.any(sql.type(ledgerRow)`
    SELECT payment_id, state, routed_at, paid_out_at FROM payment_ledger WHERE payment_id = ANY(${sql.array(paymentIds, 'text')})`);
  expect(new Set(ledger.map((row) => row.payment_id)).size).toBe(paymentIds.length);
  const credits = await database.any(sql.type(creditRow)`
    SELECT payment_id, payout_batch_id, paid_out_at FROM usdt_credits WHERE payment_id = ANY(${sql.array(paymentIds, 'text')})`);
  expect(credits).toHaveLength(paymentIds.length);
  expect(new Set(credits.map((credit) => credit.payment_id)).size).toBe(paymentIds.length);
  const batches = await database.any(sql.type(payoutRow)`
    SELECT batch_id, client_id, state, payout_amount FROM payout_batches WHERE client_id = ANY(${sql.array(clients.map((client) => client.clientId), 'text')})`);
  const finished = new Set(batches.filter((batch) => batch.state === 'finished').map((batch) => batch.batch_id));
  for (const credit of credits) expect(finished.has(credit.payout_batch_id ?? ''), credit.payment_id).toBe(true);

  // Paid once, where it counts: each wallet on the chain holds exactly what its finished batches paid.
  for (const { clientId, wallet } of clients) {
    const paid = batches
      .filter((batch) => batch.client_id === clientId && batch.state === 'finished')
      .reduce((sum, batch) => sum + toBaseUnits(batch.payout_amount ?? new Decimal(0), 18), 0n);
    expect(paid > 0n, clientId).toBe(true);
    expect(await ethBalanceOf(wallet), clientId).toBe(paid);
  }
  // And announced once per batch on the cluster (a relay may publish a record again; it is the same record).
  const completed = (await readTopic(endpoints, topicNames.payoutsCompleted)).map((record) => record.value as PayoutCompleted);
  expect(new Set(completed.map((record) => record.payout_batch_id))).toEqual(finished);

  const violations = await database.connect((connection) => findViolations(connection));
  expect(violations, formatViolations(violations)).toEqual([]);

  // The stall figures.
  const accepted = sent.filter((entry) => !refused.includes(entry)).map((entry) => entry.answeredAt);
  const acceptGap = longestGap(accepted);
  const routedAt = ledger.map((row) => row.routed_at?.getTime() ?? 0);
  // Over the whole scenario, not only the stream: a stall that outlasts the stream is the figure that matters most.
  const routingGap = longestGap(routedAt.filter((instant) => instant >= startedAt));
  // Publishing (the webhooks' outbox relay onto payments-received) apart from routing, to tell a stalled relay from a stalled router.
  const publishedAt = (
    await database.anyFirst(sql.type(z.object({ published_at: z.date() }))`
      SELECT published_at FROM outbox WHERE topic = ${topicNames.paymentsReceived} AND published_at IS NOT NULL`)
  ).map((instant) => instant.getTime());
  const publishGap = longestGap(publishedAt.filter((instant) => instant >= startedAt));
  const firstPublishedAfterKill = Math.min(...publishedAt.filter((instant) => instant > brokerKilledAt));
  const firstRoutedAfterKill = Math.min(...routedAt.filter((instant) => instant > brokerKilledAt));
  const firstAcceptedAfterKill = Math.min(...sent.filter((entry) => entry.sentAt > brokerKilledAt && !refused.includes(entry)).map((entry) => entry.answeredAt));
  const latencies = sent.filter((entry) => !refused.includes(entry)).map((entry) => entry.answeredAt - entry.sentAt).sort((a, b) => a - b);
  const relative = (instant: number): string => `${((instant - brokerKilledAt) / 1_000).toFixed(1)} s`;
  const lines = [
    `broker failover: ${sent.length} payments at ${paymentsPerSecond}/s for ${streamMs / 1_000} s over 2 webhooks; ${clients.length} threshold clients; two instances of every processor`,
    `  broker node ${cluster.nodeIdOf(brokerIndex)} (leader of ${leaderships} of 6 payments-received partitions) SIGKILLed at +${((brokerKilledAt - startedAt) / 1_000).toFixed(1)} s, restart began ${(brokerDownMs / 1_000).toFixed(0)} s later, serving again after ${(brokerRestartMs / 1_000).toFixed(1)} s (kill +${relative(brokerRestartedAt)}); router instance SIGKILLed at +${routerKillAtMs / 1_000} s and restarted`,
    `  webhook: ${sent.length - refused.length} answered 2xx first time, ${refused.length} not (${[...new Set(refusedStatuses)].map((status) => `${status}: ${refusedStatuses.filter((value) => value === status).length}`).join(', ') || 'none'}; sent again after the stream, all accepted)`,
    `  webhook 2xx latency p50 ${latencies[Math.floor(latencies.length / 2)] ?? 0} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)] ?? 0} ms, max ${latencies.at(-1) ?? 0} ms`,
    `  longest gap between 2xx answers: ${(acceptGap.gapMs / 1_000).toFixed(2)} s, from kill ${relative(acceptGap.fromMs)}; first payment sent after the kill accepted at kill +${relative(firstAcceptedAfterKill)}`,
    `  longest gap in publishing to payments-received: ${(publishGap.gapMs / 1_000).toFixed(2)} s, from kill ${relative(publishGap.fromMs)}; first published after the kill at kill +${relative(firstPublishedAfterKill)}`,
    `  longest gap in ledger routing: ${(routingGap.gapMs / 1_000).toFixed(2)} s, from kill ${relative(routingGap.fromMs)}; first payment routed after the kill at kill +${relative(firstRoutedAfterKill)}`,
    `  ${finished.size} payout batches finished, ${credits.length} credits paid, reconciliation clean; whole scenario ${((Date.now() - startedAt) / 1_000).toFixed(1)} s`,
  ];
  console.log(lines.join('\n'));
}, 360_000);
