// Proves the accumulator on the real stack (PostgreSQL ledger, Kafka, registry): a batch closes
// when pending USD crosses the threshold — not before, and within a second of the crossing commit
// by NOTIFY alone — or by punctuation once the injected clock passes MAX_WAIT; a threshold change
// on pipeline-config applies without a restart, and older or invalid changes never roll it back;
// two instances at once form each batch once under load; and replaying pipeline-config from the
// beginning changes nothing.
//
// Independence: the ledger is shared with every other test file, so each payment here has a
// unique id and assertions are about those ids (a batch may also hold other files' pending rows;
// its totals are then checked against all its members as stored). The threshold is global, so it
// is set explicitly at the start of every test, and the default (20) is published back and
// applied before the accumulators stop. Each accumulator instance has its own injected clock,
// reset after a test advances it. The exchange-range tests narrow the real ChangeNow simulator's
// ETH → USDT range and reset it afterwards.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { createIdempotentProducer, createKafkaClient, headerText, type Admin, type Producer } from '../../core/kafka/kafka-client.ts';
import { createAvroSerde, createSchemaRegistryClient, type AvroSerde } from '../../schemas/registry.ts';
import type { ConversionRequested, PipelineConfig } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, topicNames } from '../../topics/topics.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { setGroupOffsets } from '../../test/support/consumer-groups.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { describeWindow } from './micro-batch-evaluation.ts';
import { accumulatorConsumerGroup, startAccumulator, windowRulesOf, type RunningAccumulator } from './start-accumulator.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { resetSimulator, setPairRange } from '../../test/support/changenow-simulator.ts';
import { arrivalOf, encodeLedgerPending, ledgerPendingChannel } from '../../db/ledger-notifications.ts';

const endpoints = inject('endpoints');
const log = createLogger({ name: 'accumulator-test', level: process.env['TEST_PROCESS_LOG_LEVEL'] ?? 'silent' });
const runId = randomUUID().slice(0, 8);
// Event-driven instances get an hour-long punctuation, so only NOTIFY and committed config chunks
// can trigger their evaluations: what they do within a second is the event path's doing.
const eventDrivenConfig = loadConfig({ ...testStackEnvironment(process.env), WINDOW_PUNCTUATION_INTERVAL: '1h' });
const punctuatedConfig = loadConfig({ ...testStackEnvironment(process.env), WINDOW_PUNCTUATION_INTERVAL: '250ms' });
const rules = windowRulesOf(eventDrivenConfig);
const defaultThreshold = eventDrivenConfig.MICRO_BATCH_THRESHOLD_USD;
// High enough that the small rows other test files leave pending never cross it, within the
// ceiling (MICRO_BATCH_THRESHOLD_MAX_USD, 100,000 by default).
const highThreshold = '90000';

let database: DatabasePool;
let producer: Producer;
let admin: Admin;
let serde: AvroSerde;
const running = new Set<RunningAccumulator>();

interface TestClock {
  now: () => Date;
  advance(ms: number): void;
  reset(): void;
}

function createTestClock(): TestClock {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    advance: (ms) => {
      offsetMs += ms;
    },
    reset: () => {
      offsetMs = 0;
    },
  };
}

async function startInstance(config: Config, clock: TestClock): Promise<RunningAccumulator> {
  const instance = await startAccumulator({ config, endpoints, port: 0, now: clock.now, log });
  running.add(instance);
  return instance;
}

async function stopInstance(instance: RunningAccumulator): Promise<void> {
  await instance.stop();
  running.delete(instance);
}

const plantedClientId = '-1009000000001';

beforeAll(async () => {
  database = await openTestDatabase();
  // The router writes ledger rows only for registered clients, and settlement relies on it when it
  // distributes a batch; the rows planted here belong to a registered threshold client too, so a
  // later file that runs the whole pipeline can settle whatever this file leaves pending.
  await database.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    VALUES (${plantedClientId}, 1, 'threshold', 100000, '0x000000000000000000000000000000000000dEaD', 'eth', 'eth')
    ON CONFLICT (client_id) DO NOTHING`);
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'accumulator-test', log, requestTimeoutMs: 10_000 });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  admin = kafka.admin();
  await admin.connect();
  serde = createAvroSerde(createSchemaRegistryClient(endpoints.schemaRegistryUrl));
});

afterAll(async () => {
  // The threshold is global: put the default back while an accumulator is there to apply it.
  if (database !== undefined) {
    if (running.size === 0) await startInstance(eventDrivenConfig, createTestClock());
    await thresholdInForce(await publishThreshold(defaultThreshold));
  }
  for (const instance of [...running]) await stopInstance(instance);
  await admin?.disconnect();
  await producer?.disconnect();
  await database?.end();
});

// ---- helpers --------------------------------------------------------------------------------

const decimal = decimalColumn;
const settingRow = z.object({ value: z.string(), updated_at: z.date(), change_id: z.string().nullable() });
const placementRow = z.object({ payment_id: z.string(), state: z.string(), conversion_batch_id: z.string().nullable() });
const batchRow = z.object({
  batch_id: z.string(),
  state: z.string(),
  trigger: z.string(),
  member_count: z.number().int(),
  total_usd: decimal,
  total_eth: decimal,
  threshold_usd: decimal,
  created_at: z.date(),
});
const memberRow = z.object({ payment_id: z.string(), usd_net: decimal, eth_net: decimal });

interface TestPayment {
  readonly paymentId: string;
  readonly usdGross: Decimal;
  readonly ethGross: Decimal;
  readonly usdNet: Decimal;
  readonly receivedAt: Date;
}

let paymentCount = 0;
const feePercent = new Decimal(3);

/** A payment with a 3% platform fee on both sides, exact: gross with few decimals keeps the fee within scale. */
function newPayment(usdGross: string, receivedAt = new Date()): TestPayment {
  paymentCount += 1;
  const usd = new Decimal(usdGross);
  return {
    paymentId: `acc-${runId}-${paymentCount}`,
    usdGross: usd,
    ethGross: usd.dividedBy(4_000).toDecimalPlaces(12),
    usdNet: usd.minus(usd.times(feePercent).dividedBy(100)),
    receivedAt,
  };
}

/**
 * How a test's rows are announced: as the router does (the payload says what arrived), as an old
 * writer did (a bare NOTIFY: the accumulator must rebuild its summary from the ledger), or not at all
 * (a lost notification).
 */
type Announcement = 'payload' | 'bare' | 'none';

/** Writes the rows as the router does — pending_conversion, NOTIFY in the same transaction — and returns when it committed. */
async function addPending(payments: readonly TestPayment[], announcement: Announcement = 'payload'): Promise<number> {
  const column = (pick: (payment: TestPayment) => string) => sql.array(payments.map(pick), 'text');
  await database.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`
      INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent,
                                  usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net,
                                  paid_at, received_at, routed_at)
      SELECT p.payment_id, ${plantedClientId}, '42', '7', 'pending_conversion', ${feePercent.toFixed()}::numeric,
             p.usd_gross, round(p.usd_gross * 3 / 100, 8), p.usd_gross - round(p.usd_gross * 3 / 100, 8),
             p.eth_gross, round(p.eth_gross * 3 / 100, 18), p.eth_gross - round(p.eth_gross * 3 / 100, 18),
             p.received_at, p.received_at, p.received_at
      FROM unnest(${column((payment) => payment.paymentId)}::text[],
                  ${column((payment) => payment.usdGross.toFixed())}::numeric[],
                  ${column((payment) => payment.ethGross.toFixed())}::numeric[],
                  ${column((payment) => payment.receivedAt.toISOString())}::timestamptz[])
           AS p(payment_id, usd_gross, eth_gross, received_at)
    `);
    const arrival = arrivalOf(payments.map((payment) => ({ usdNet: payment.usdNet, receivedAt: payment.receivedAt })));
    if (announcement === 'bare') await transaction.query(sql.unsafe`NOTIFY ledger_pending`);
    if (announcement === 'payload' && arrival !== undefined) {
      await transaction.query(sql.unsafe`SELECT pg_notify(${ledgerPendingChannel}, ${encodeLedgerPending(arrival)})`);
    }
  });
  return Date.now();
}

async function placementsOf(payments: readonly TestPayment[]) {
  return database.any(sql.type(placementRow)`
    SELECT payment_id, state, conversion_batch_id FROM payment_ledger
    WHERE payment_id = ANY(${sql.array(
      payments.map((payment) => payment.paymentId),
      'text',
    )}::text[])
  `);
}

async function expectStillPending(payments: readonly TestPayment[]): Promise<void> {
  const placements = await placementsOf(payments);
  expect(placements).toHaveLength(payments.length);
  for (const placement of placements) expect(placement).toMatchObject({ state: 'pending_conversion', conversion_batch_id: null });
}

/** Passes once every payment is swapping in one and the same batch; returns that batch's id. */
async function oneBatchOf(payments: readonly TestPayment[]): Promise<string> {
  const placements = await placementsOf(payments);
  const batchIds = new Set(placements.map((placement) => placement.conversion_batch_id));
  expect(placements.every((placement) => placement.state === 'swapping')).toBe(true);
  expect(batchIds.size).toBe(1);
  const [batchId] = batchIds;
  if (batchId === null || batchId === undefined) throw new Error('no batch');
  return batchId;
}

async function batchOf(batchId: string) {
  return database.one(sql.type(batchRow)`
    SELECT batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at
    FROM conversion_batches WHERE batch_id = ${batchId}
  `);
}

/** The batch as stored, checked against all its members in the ledger and its one command on the topic. */
async function expectConsistentBatch(batchId: string): Promise<z.infer<typeof batchRow>> {
  const batch = await batchOf(batchId);
  const members = await database.any(sql.type(memberRow)`
    SELECT payment_id, usd_net, eth_net FROM payment_ledger WHERE conversion_batch_id = ${batchId} AND state = 'swapping'
  `);
  const usd = members.reduce((sum, member) => sum.plus(member.usd_net), new Decimal(0));
  const eth = members.reduce((sum, member) => sum.plus(member.eth_net), new Decimal(0));
  expect(batch.state).toBe('requested');
  expect(batch.member_count).toBe(members.length);
  expect(batch.total_usd.equals(usd)).toBe(true);
  expect(batch.total_eth.equals(eth)).toBe(true);

  const commands = await eventually(async () => {
    const found = (await conversionRequests()).filter((command) => command.batch_id === batchId);
    expect(found.length).toBeGreaterThan(0);
    return found;
  });
  expect(commands).toHaveLength(1);
  const [command] = commands;
  expect(command?.command_id).toBe(batchId);
  expect([...(command?.member_payment_ids ?? [])].sort()).toEqual(members.map((member) => member.payment_id).sort());
  expect(command?.total_usd.equals(batch.total_usd)).toBe(true);
  expect(command?.total_eth.equals(batch.total_eth)).toBe(true);
  expect(command?.threshold_usd.equals(batch.threshold_usd)).toBe(true);
  expect(command?.trigger.toLowerCase()).toBe(batch.trigger);
  return batch;
}

async function conversionRequests(): Promise<ConversionRequested[]> {
  return (await readTopic(endpoints, topicNames.conversionRequests)).map((record) => record.value as ConversionRequested);
}

async function currentSetting() {
  return database.maybeOne(sql.type(settingRow)`
    SELECT value, updated_at, change_id FROM pipeline_settings WHERE setting = 'micro_batch_threshold_usd'
  `);
}

/**
 * Publishes a change as the admin API does. changed_at is after the one in force, so the change
 * wins even if another test file stamped its change with a clock ahead of ours.
 */
async function publishThreshold(value: string, changedAt?: Date): Promise<string> {
  const inForce = await currentSetting();
  const record: PipelineConfig = {
    change_id: randomUUID(),
    micro_batch_threshold_usd: new Decimal(value),
    changed_by: 'accumulator-int-test',
    changed_at: changedAt ?? new Date(Math.max(Date.now(), (inForce?.updated_at.getTime() ?? 0) + 1)),
  };
  const encoded = await serde.encode(topicNames.pipelineConfig, 'pipeline-config', record);
  await producer.send({ topic: topicNames.pipelineConfig, acks: -1, messages: [{ key: 'pipeline', value: encoded }] });
  return record.change_id;
}

async function thresholdInForce(changeId: string): Promise<void> {
  await eventually(
    async () => {
      expect((await currentSetting())?.change_id).toBe(changeId);
    },
    { timeoutMs: 30_000 },
  );
}

async function consumed(changeId: string): Promise<void> {
  await eventually(
    async () => {
      const found = await database.exists(sql.unsafe`
        SELECT 1 FROM processed_messages WHERE consumer = ${accumulatorConsumerGroup} AND message_id = ${changeId}`);
      expect(found).toBe(true);
    },
    { timeoutMs: 30_000 },
  );
}

async function metricsOf(instance: RunningAccumulator): Promise<string> {
  return (await fetch(`${instance.url}/metrics`)).text();
}

// ---- tests ----------------------------------------------------------------------------------

describe('one accumulator, event-driven', () => {
  const clock = createTestClock();
  let accumulator: RunningAccumulator;

  beforeAll(async () => {
    accumulator = await startInstance(eventDrivenConfig, clock);
  });

  afterAll(async () => {
    await stopInstance(accumulator);
  });

  it('closes a batch when pending USD crosses the threshold, not before, within a second of the crossing commit', async () => {
    await thresholdInForce(await publishThreshold(highThreshold));
    // 4 × 19,400 net = 77,600: below, even with whatever small rows other files left pending.
    const below = ['20000', '20000', '20000', '20000'].map((gross) => newPayment(gross));
    await addPending(below);
    await accumulator.evaluateNow();
    await expectStillPending(below);

    const crossing = newPayment('15000'); // + 14,550 = 92,150
    const committedAtMs = await addPending([crossing]);
    const batchId = await eventually(() => oneBatchOf([...below, crossing]), { timeoutMs: 5_000, intervalMs: 5 });
    const visibleAfterMs = Date.now() - committedAtMs;
    const batch = await expectConsistentBatch(batchId);
    const formedAfterMs = batch.created_at.getTime() - committedAtMs;
    console.info(`[accumulator] crossing commit → batch decided ${formedAfterMs} ms, visible ${visibleAfterMs} ms (NOTIFY only, punctuation 1 h)`);
    expect(visibleAfterMs).toBeLessThan(1_000);
    expect(batch.trigger).toBe('threshold');
    expect(batch.threshold_usd.equals(highThreshold)).toBe(true);
    expect(batch.total_usd.greaterThanOrEqualTo(highThreshold)).toBe(true);
    expect(await metricsOf(accumulator)).toMatch(/accumulator_batches_total\{trigger="THRESHOLD"[^}]*\} [1-9]/);
  });

  it('applies a threshold change from pipeline-config to the next decision, without a restart', async () => {
    await thresholdInForce(await publishThreshold(highThreshold));
    const waiting = [newPayment('100'), newPayment('100')]; // 194 net
    await addPending(waiting);
    await accumulator.evaluateNow();
    await expectStillPending(waiting);

    const change = await publishThreshold('150');
    await thresholdInForce(change);
    // No payment arrives and no punctuation runs: the committed config chunk triggers the decision.
    const batchId = await eventually(() => oneBatchOf(waiting), { timeoutMs: 10_000, intervalMs: 20 });
    const batch = await expectConsistentBatch(batchId);
    expect(batch.trigger).toBe('threshold');
    expect(batch.threshold_usd.equals(150)).toBe(true);

    const window = await describeWindow(database, rules);
    expect(window.thresholdUsd.equals(150)).toBe(true);
    expect(window.thresholdSource).toMatchObject({ kind: 'pipeline-config', changeId: change, changedBy: 'accumulator-int-test' });
  });

  it('keeps the newer threshold when an older change arrives later, and dead-letters an invalid one', async () => {
    const newer = await publishThreshold(highThreshold);
    await thresholdInForce(newer);
    const inForce = await currentSetting();
    if (inForce === null) throw new Error('no threshold in force');

    const older = await publishThreshold('5', new Date(inForce.updated_at.getTime() - 60_000));
    const zero = await publishThreshold('0');
    const aboveCeiling = await publishThreshold(new Decimal(rules.ceilingUsd).plus(1).toFixed());
    await consumed(older);
    expect(await currentSetting()).toEqual(inForce);

    const letters = await eventually(async () => {
      const found = (await readTopic(endpoints, deadLetterTopicOf(topicNames.pipelineConfig))).filter((record) =>
        [zero, aboveCeiling].includes(headerText(record.headers, 'dlq-message-id') ?? ''),
      );
      expect(found).toHaveLength(2);
      return found;
    });
    expect(letters.map((record) => headerText(record.headers, 'dlq-rule')).sort()).toEqual(['threshold-ceiling', 'threshold-positive']);
    expect(await currentSetting()).toEqual(inForce);
  });

  it('listens again after its connection is killed, and still closes a batch within a second', async () => {
    await thresholdInForce(await publishThreshold(highThreshold));
    const killed = await database.anyFirst(sql.type(z.object({ pid: z.number() }))`
      SELECT pid FROM pg_stat_activity WHERE application_name = ${`${accumulatorConsumerGroup}-listener`}`);
    expect(killed.length).toBeGreaterThan(0);
    await database.query(sql.unsafe`SELECT pg_terminate_backend(pid) FROM unnest(${sql.array(killed, 'int4')}::int4[]) AS pid`);
    await eventually(async () => {
      const pids = await database.anyFirst(sql.type(z.object({ pid: z.number() }))`
        SELECT pid FROM pg_stat_activity WHERE application_name = ${`${accumulatorConsumerGroup}-listener`}`);
      expect(pids.length).toBeGreaterThan(0);
      expect(pids.some((pid) => killed.includes(pid))).toBe(false);
      expect(await metricsOf(accumulator)).toMatch(/accumulator_ledger_listener_connected\{[^}]*\} 1/);
    });

    const payments = [newPayment('50000'), newPayment('50000')]; // 97,000 net
    const committedAtMs = await addPending(payments);
    await eventually(() => oneBatchOf(payments), { timeoutMs: 5_000, intervalMs: 5 });
    expect(Date.now() - committedAtMs).toBeLessThan(1_000);
  });
});

describe('the time trigger', () => {
  it('closes a batch below the threshold by punctuation once the injected clock passes MAX_WAIT, with no new payment', async () => {
    const clock = createTestClock();
    const accumulator = await startInstance(punctuatedConfig, clock);
    try {
      await thresholdInForce(await publishThreshold(highThreshold));
      const waiting = [newPayment('10'), newPayment('10')];
      await addPending(waiting);
      await accumulator.evaluateNow();
      clock.advance(rules.maxWaitMs - 2_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // several punctuations
      await expectStillPending(waiting);

      clock.advance(2_000);
      const batchId = await eventually(() => oneBatchOf(waiting), { timeoutMs: 10_000, intervalMs: 20 });
      const batch = await expectConsistentBatch(batchId);
      expect(batch.trigger).toBe('max_wait');
      expect(batch.total_usd.lessThan(batch.threshold_usd)).toBe(true);
      expect(batch.threshold_usd.equals(highThreshold)).toBe(true);
    } finally {
      clock.reset();
      await stopInstance(accumulator);
    }
  });
});

describe("the exchange's range for ETH → USDT", () => {
  const holdRow = z.object({ state: z.string(), reason: z.string(), payment_count: z.number().int(), since: z.date() });
  const narrowRange = (minAmount: string, maxAmount: string | null) =>
    setPairRange({ fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth', minAmount: new Decimal(minAmount), maxAmount: maxAmount === null ? null : new Decimal(maxAmount) });
  const holdsNow = () => database.any(sql.type(holdRow)`SELECT state, reason, payment_count, since FROM conversion_window_holds ORDER BY state`);
  const conversionRow = z.object({ batch_id: z.string(), total_eth: decimal });
  const allConversions = () => database.any(sql.type(conversionRow)`SELECT batch_id, total_eth FROM conversion_batches`);
  /**
   * Every conversion formed since the snapshot, by id rather than by time: instances with an
   * advanced test clock stamp their batches in the future.
   */
  async function conversionsSince(before: ReadonlyArray<{ batch_id: string }>) {
    const known = new Set(before.map((batch) => batch.batch_id));
    return (await allConversions()).filter((batch) => !known.has(batch.batch_id));
  }

  afterAll(async () => {
    await resetSimulator();
  });

  it('waits below the minimum with a recorded reason, whatever the trigger, and closes once the range allows it', async () => {
    // No pending sum in this test stack comes near 1,000 ETH, so nothing may close.
    await narrowRange('1000', null);
    const clock = createTestClock();
    const accumulator = await startInstance(punctuatedConfig, clock);
    const before = await allConversions();
    try {
      await thresholdInForce(await publishThreshold('1'));
      const due = [newPayment('40'), newPayment('40')];
      await addPending(due);
      clock.advance(rules.maxWaitMs + 1_000);
      await accumulator.evaluateNow();
      await accumulator.evaluateNow();
      await expectStillPending(due);
      expect(await conversionsSince(before)).toEqual([]);
      const [hold] = await holdsNow();
      expect(hold).toMatchObject({ state: 'below_exchange_minimum' });
      expect(hold?.reason).toContain('minimum');
      expect(await metricsOf(accumulator)).toMatch(/accumulator_held_payments\{[^}]*state="below_exchange_minimum"[^}]*\} [1-9]/);
      const since = hold?.since;
      await accumulator.evaluateNow();
      // The hold keeps its start while it stands: its age is the wait's.
      expect((await holdsNow())[0]?.since.getTime()).toBe(since?.getTime());
    } finally {
      clock.reset();
      await stopInstance(accumulator);
    }
    // The exchange takes it now: a fresh instance asks for the range again and forms the batch.
    await resetSimulator();
    const after = await startInstance(eventDrivenConfig, createTestClock());
    try {
      await after.evaluateNow();
      expect(await holdsNow()).toEqual([]);
      expect((await conversionsSince(before)).length).toBeGreaterThan(0);
    } finally {
      await stopInstance(after);
    }
  });

  it('splits a pending sum above the maximum into several conversions, each within the range, and sets a payment above it aside', async () => {
    // ETH at 4,000 USD, 3% fee: $100 is 0.02425 ETH net, $400 is 0.097 ETH.
    const [minEth, maxEth] = [new Decimal('0.02'), new Decimal('0.05')];
    await narrowRange(minEth.toFixed(), maxEth.toFixed());
    const accumulator = await startInstance(eventDrivenConfig, createTestClock());
    const before = await allConversions();
    try {
      // Everything pending is due, whatever other files left behind; any batch that holds one of
      // these payments (0.02425 ETH each) is within the range, so none of them can be held.
      await thresholdInForce(await publishThreshold('1'));
      const tooLarge = newPayment('400');
      const payments = [newPayment('100'), newPayment('100'), newPayment('100'), newPayment('100')];
      await addPending([tooLarge, ...payments]);
      await accumulator.evaluateNow();
      const placements = await placementsOf(payments);
      const batchIds = new Set(placements.map((placement) => placement.conversion_batch_id));
      // At most two $100 payments fit under 0.05 ETH, so four need at least two conversions.
      expect(placements.map((placement) => placement.state)).toEqual(payments.map(() => 'swapping'));
      expect(batchIds.size).toBeGreaterThanOrEqual(2);
      for (const batchId of batchIds) if (batchId !== null) await expectConsistentBatch(batchId);
      for (const batch of await conversionsSince(before)) {
        expect(batch.total_eth.greaterThanOrEqualTo(minEth) && batch.total_eth.lessThanOrEqualTo(maxEth)).toBe(true);
      }
      await expectStillPending([tooLarge]);
      const holds = await holdsNow();
      expect(holds.map((hold) => hold.state)).toContain('above_exchange_maximum');
    } finally {
      await resetSimulator();
      await stopInstance(accumulator);
    }
  });
});

describe('two accumulators at once', () => {
  it('form each batch once under load, every payment in exactly one batch, each batch one command', async () => {
    const clocks = [createTestClock(), createTestClock()];
    const instances = await Promise.all(clocks.map((clock) => startInstance(punctuatedConfig, clock)));
    try {
      await thresholdInForce(await publishThreshold('50'));
      const payments = Array.from({ length: 400 }, (_, index) => newPayment(String(1 + (index % 5))));
      const committedAtMs = new Map<string, number>();
      // Eight writers in parallel, one transaction and one NOTIFY per payment, like eight router pods.
      const queue = [...payments];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let payment = queue.shift(); payment !== undefined; payment = queue.shift()) {
            committedAtMs.set(payment.paymentId, await addPending([payment]));
          }
        }),
      );
      // Once an evaluation that started after the last commit has run, what stays pending is
      // below the threshold; it is flushed by max-wait.
      await Promise.all(instances.map((instance) => instance.evaluateNow()));
      for (const clock of clocks) clock.advance(rules.maxWaitMs);
      await eventually(
        async () => {
          const placements = await placementsOf(payments);
          expect(placements.filter((placement) => placement.state !== 'swapping')).toEqual([]);
        },
        { timeoutMs: 15_000 },
      );

      const placements = await placementsOf(payments);
      const batchIds = [...new Set(placements.map((placement) => placement.conversion_batch_id ?? ''))];
      const batches = [];
      for (const batchId of batchIds) batches.push(await expectConsistentBatch(batchId));

      // Across every command on the topic, each payment is a member exactly once, of its ledger batch.
      const commands = await conversionRequests();
      const commandsPerBatch = new Map<string, number>();
      for (const command of commands) commandsPerBatch.set(command.batch_id, (commandsPerBatch.get(command.batch_id) ?? 0) + 1);
      expect([...commandsPerBatch.values()].every((count) => count === 1)).toBe(true);
      const batchOfPayment = new Map(placements.map((placement) => [placement.payment_id, placement.conversion_batch_id]));
      const seen = new Map<string, number>();
      for (const command of commands) {
        for (const paymentId of command.member_payment_ids) {
          if (!batchOfPayment.has(paymentId)) continue;
          seen.set(paymentId, (seen.get(paymentId) ?? 0) + 1);
          expect(command.batch_id).toBe(batchOfPayment.get(paymentId));
        }
      }
      expect(seen.size).toBe(payments.length);
      expect([...seen.values()].every((count) => count === 1)).toBe(true);

      // Latency: the crossing payment of a threshold batch is the member whose commit first made
      // the batch's members sum to the threshold; the batch was decided at created_at.
      const latenciesMs: number[] = [];
      const usdNetOf = new Map(payments.map((payment) => [payment.paymentId, payment.usdNet]));
      for (const batch of batches.filter((candidate) => candidate.trigger === 'threshold')) {
        const members = placements.filter((placement) => placement.conversion_batch_id === batch.batch_id);
        members.sort((left, right) => (committedAtMs.get(left.payment_id) ?? 0) - (committedAtMs.get(right.payment_id) ?? 0));
        let sum = new Decimal(0);
        for (const member of members) {
          sum = sum.plus(usdNetOf.get(member.payment_id) ?? 0);
          if (sum.greaterThanOrEqualTo(batch.threshold_usd)) {
            latenciesMs.push(Math.max(0, batch.created_at.getTime() - (committedAtMs.get(member.payment_id) ?? 0)));
            break;
          }
        }
      }
      latenciesMs.sort((left, right) => left - right);
      const formedBy = await Promise.all(instances.map(async (instance) => /accumulator_batches_total\{trigger="THRESHOLD"[^}]*\} (\d+)/.exec(await metricsOf(instance))?.[1] ?? '0'));
      console.info(
        `[accumulator] two instances, ${payments.length} payments by 8 writers: ${batches.length} batches (threshold batches per instance: ${formedBy.join(' + ')}); ` +
          `crossing commit → batch: p50 ${latenciesMs[Math.floor(latenciesMs.length / 2)]} ms, max ${latenciesMs[latenciesMs.length - 1]} ms over ${latenciesMs.length} batches`,
      );
      expect(latenciesMs.length).toBeGreaterThan(0);
      expect(latenciesMs[latenciesMs.length - 1]).toBeLessThan(1_000);
    } finally {
      for (const clock of clocks) clock.reset();
      for (const instance of instances) await stopInstance(instance);
    }
  });
});

describe('the running summary of the window', () => {
  const checksOf = async (instance: RunningAccumulator, outcome: 'skipped' | 'evaluated') =>
    Number(new RegExp(`accumulator_window_checks_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`).exec(await metricsOf(instance))?.[1] ?? '0');

  it('skips the full evaluation for notifications that cannot cross, and closes the crossing exactly once, among many small payments', async () => {
    const accumulator = await startInstance(eventDrivenConfig, createTestClock());
    try {
      await thresholdInForce(await publishThreshold(highThreshold));
      await accumulator.evaluateNow();
      // 2,425 net each: 30 of them are 72,750, below 90,000 even with the small rows other files leave pending.
      const below = Array.from({ length: 30 }, () => newPayment('2500'));
      const skippedBefore = await checksOf(accumulator, 'skipped');
      for (const payment of below) await addPending([payment]);
      await accumulator.evaluateNow();
      await expectStillPending(below);
      // The notifications were answered by the summary alone (they may coalesce, so at least one).
      expect(await checksOf(accumulator, 'skipped')).toBeGreaterThan(skippedBefore);

      const crossing = Array.from({ length: 8 }, () => newPayment('2500')); // 38 × 2,425 = 92,150
      for (const payment of crossing) await addPending([payment]);
      const batchId = await eventually(() => oneBatchOf([...below, ...crossing]), { timeoutMs: 5_000, intervalMs: 5 });
      const batch = await expectConsistentBatch(batchId);
      expect(batch.trigger).toBe('threshold');
      // Exactly once: no other batch holds any of them, and the evaluation after the close finds nothing more to do.
      await accumulator.evaluateNow();
      const placements = await placementsOf([...below, ...crossing]);
      expect(new Set(placements.map((placement) => placement.conversion_batch_id))).toEqual(new Set([batchId]));
      expect(placements.every((placement) => placement.state === 'swapping')).toBe(true);
    } finally {
      await stopInstance(accumulator);
    }
  });

  it('recovers rows whose notification was lost: the summary is rebuilt from the ledger at start', async () => {
    // The threshold is applied by an accumulator; it stops before the rows arrive.
    const applier = await startInstance(eventDrivenConfig, createTestClock());
    await thresholdInForce(await publishThreshold(highThreshold));
    await stopInstance(applier);
    // Nobody announces them, and no accumulator is running: only the rebuild at start can see them.
    const silent = [newPayment('50000'), newPayment('50000')]; // 97,000 net
    await addPending(silent, 'none');
    const accumulator = await startInstance(eventDrivenConfig, createTestClock());
    try {
      const batchId = await eventually(() => oneBatchOf(silent), { timeoutMs: 10_000, intervalMs: 20 });
      await expectConsistentBatch(batchId);
    } finally {
      await stopInstance(accumulator);
    }
  });

  it('rebuilds from the ledger on a notification it cannot read (an old writer\'s bare NOTIFY), and still closes the crossing', async () => {
    const accumulator = await startInstance(eventDrivenConfig, createTestClock());
    try {
      await thresholdInForce(await publishThreshold(highThreshold));
      await accumulator.evaluateNow();
      const silent = newPayment('50000'); // 48,500 net: below on its own
      await addPending([silent], 'none');
      await accumulator.evaluateNow();
      await expectStillPending([silent]);
      const bare = newPayment('50000'); // + 48,500 = 97,000: only a rebuild sees both
      const committedAtMs = await addPending([bare], 'bare');
      await eventually(() => oneBatchOf([silent, bare]), { timeoutMs: 5_000, intervalMs: 5 });
      expect(Date.now() - committedAtMs).toBeLessThan(1_000);
    } finally {
      await stopInstance(accumulator);
    }
  });
});

describe('replaying pipeline-config from the beginning', () => {
  it('changes nothing: the inbox drops every change already applied', async () => {
    // Dead letters are left out: the runtime releases a rejected record's claim so that `replay`
    // can bring it back, so a replay dead-letters an invalid change again — by design, harmless.
    const clock = createTestClock();
    let accumulator = await startInstance(eventDrivenConfig, clock);
    await thresholdInForce(await publishThreshold(highThreshold));
    await thresholdInForce(await publishThreshold('777'));
    const pending = [newPayment('100')];
    await addPending(pending);
    await accumulator.evaluateNow();
    await expectStillPending(pending);
    // Every accumulator stops, so the group is empty and its offsets can be reset.
    for (const instance of [...running]) await stopInstance(instance);

    const snapshot = async () => ({
      setting: await currentSetting(),
      batches: await database.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int4 AS count FROM conversion_batches`),
      commands: await database.oneFirst(sql.type(z.object({ count: z.number() }))`
        SELECT count(*)::int4 AS count FROM outbox WHERE schema_name IS NOT NULL`),
      inbox: await database.oneFirst(sql.type(z.object({ count: z.number() }))`
        SELECT count(*)::int4 AS count FROM processed_messages WHERE consumer = ${accumulatorConsumerGroup}`),
    });
    const before = await snapshot();
    const earliest = (await admin.fetchTopicOffsets(topicNames.pipelineConfig)).map((range) => ({ partition: range.partition, offset: range.low }));
    await setGroupOffsets(endpoints, accumulatorConsumerGroup, [{ topic: topicNames.pipelineConfig, partitions: earliest }]);

    accumulator = await startInstance(eventDrivenConfig, clock);
    const [end] = await admin.fetchTopicOffsets(topicNames.pipelineConfig);
    await eventually(
      async () => {
        const [group] = await admin.fetchOffsets({ groupId: accumulatorConsumerGroup, topics: [topicNames.pipelineConfig] });
        expect(group?.partitions[0]?.offset).toBe(end?.high);
      },
      { timeoutMs: 30_000 },
    );
    await accumulator.evaluateNow();
    const duplicates = /consumer_records_total\{[^}]*outcome="duplicate"[^}]*\} (\d+)/.exec(await metricsOf(accumulator))?.[1];
    expect(Number(duplicates)).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(before);
    await expectStillPending(pending);
  });
});
