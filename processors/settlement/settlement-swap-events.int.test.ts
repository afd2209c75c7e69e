// Proves settlement's handling of SwapEvents on the real stack, with settlement as its own process
// (`cli run settlement`) driven through its input topic: a finished conversion is shared out
// exactly and credited once whatever is replayed; a conversion that failed or received nothing
// sends its payments back to pending, visibly, and the accumulator batches them again; an
// instant payout is marked paid only by a FINISHED with a payout hash, announced once on
// payouts-completed; a failed payout is retried with backoff as a new command, paid once, and its
// chain stops after PAYOUT_RETRY_ATTEMPTS_MAX automatic retries; contradictions are dead-lettered.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { headerText } from '../../core/kafka/kafka-client.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { decodeLedgerPending } from '../../db/ledger-notifications.ts';
import { findViolations } from '../../db/reconciliation.ts';
import type { CreditIssued, PayoutCompleted, PayoutRequested, SwapEvent } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, topicNames } from '../../topics/topics.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { startProcessorProcess, type ProcessorProcess } from '../../test/support/processor-process.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { openTopicProducer, type TopicProducer } from '../../test/support/topic-producer.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { plantConversionBatch, plantInstantPayment, produceSwapEvent, registerClient, swapEvent } from '../../test/support/settlement-fixtures.ts';
import { startAccumulator } from '../accumulator/start-accumulator.ts';
import { settlementConsumerGroup } from './start-settlement.ts';

const endpoints = inject('endpoints');
const wait = { timeoutMs: 45_000, intervalMs: 200 };
const retryBackoffMs = 1_000;

let database: DatabasePool;
let producer: TopicProducer;
let settlement: ProcessorProcess;
let listener: pg.Client;
const ledgerNotifications: string[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(endpoints);
  settlement = await startProcessorProcess('settlement', 'SETTLEMENT_PORT', {
    environment: { PAYOUT_RETRY_BACKOFF: `${retryBackoffMs}ms`, PAYOUT_RETRY_ATTEMPTS_MAX: '2', WINDOW_PUNCTUATION_INTERVAL: '200ms' },
    readyTimeoutMs: 120_000,
  });
  listener = new pg.Client({ connectionString: endpoints.databaseUrl });
  await listener.connect();
  listener.on('notification', (notification) => ledgerNotifications.push(notification.payload ?? ''));
  await listener.query('LISTEN ledger_pending');
});

afterAll(async () => {
  await listener?.end();
  if (settlement !== undefined) expect(await settlement.terminate()).toBe(0);
  await producer?.close();
  if (database !== undefined) expect(await findViolations(database)).toEqual([]);
  await database?.end();
});

// ---- helpers --------------------------------------------------------------------------------

const decimal = decimalColumn;
const count = z.object({ count: z.number().int() });

async function processed(eventId: string): Promise<void> {
  await eventually(async () => {
    const found = await database.oneFirst(sql.type(count)`
      SELECT count(*)::int AS count FROM processed_messages WHERE consumer = ${settlementConsumerGroup} AND message_id = ${eventId}`);
    expect(found).toBe(1);
  }, wait);
}

async function send(event: SwapEvent): Promise<SwapEvent> {
  await produceSwapEvent(producer, event);
  return event;
}

/** Sends the event and waits until settlement has applied (or ignored) it. */
async function apply(event: SwapEvent): Promise<SwapEvent> {
  await send(event);
  await processed(event.event_id);
  return event;
}

async function deadLetterOf(eventId: string) {
  return eventually(async () => {
    const letters = await readTopic(endpoints, deadLetterTopicOf(topicNames.swapEvents));
    const letter = letters.find((record) => headerText(record.headers, 'dlq-message-id') === eventId);
    expect(letter).toBeDefined();
    return { rule: headerText(letter?.headers, 'dlq-rule'), reason: headerText(letter?.headers, 'dlq-reason') };
  }, wait);
}

const conversionBatchRow = z.object({
  state: z.string(),
  usdt_received: decimal.nullable(),
  exchange_id: z.string().nullable(),
  exchange_status: z.string().nullable(),
  eth_sent: decimal.nullable(),
  payin_hash: z.string().nullable(),
  payout_hash: z.string().nullable(),
  failure_reason: z.string().nullable(),
  finished_at: z.date().nullable(),
  failed_at: z.date().nullable(),
});

async function conversionBatch(batchId: string) {
  return database.one(sql.type(conversionBatchRow)`
    SELECT state, usdt_received, exchange_id, exchange_status, eth_sent, payin_hash, payout_hash, failure_reason, finished_at, failed_at
    FROM conversion_batches WHERE batch_id = ${batchId}`);
}

const creditRow = z.object({
  credit_id: z.string(),
  payment_id: z.string(),
  client_id: z.string(),
  usdt_amount: decimal,
  exact_share: z.string(),
  rounding_applied: decimal,
  wallet_address: z.string(),
  payout_batch_id: z.string().nullable(),
  paid_out_at: z.date().nullable(),
});

async function creditsOf(batchId: string) {
  return database.any(sql.type(creditRow)`
    SELECT credit_id, payment_id, client_id, usdt_amount, exact_share, rounding_applied, wallet_address, payout_batch_id, paid_out_at
    FROM usdt_credits WHERE conversion_batch_id = ${batchId} ORDER BY payment_id`);
}

const ledgerRow = z.object({ payment_id: z.string(), state: z.string(), conversion_batch_id: z.string().nullable(), paid_out_at: z.date().nullable() });

async function ledgerOf(paymentIds: readonly string[]) {
  return database.any(sql.type(ledgerRow)`
    SELECT payment_id, state, conversion_batch_id, paid_out_at FROM payment_ledger WHERE payment_id = ANY(${sql.array([...paymentIds], 'text')}) ORDER BY payment_id`);
}

const memberRow = z.object({ batch_id: z.string(), payment_id: z.string(), released_at: z.date().nullable(), release_reason: z.string().nullable() });

async function membershipsOf(paymentIds: readonly string[]) {
  return database.any(sql.type(memberRow)`
    SELECT batch_id, payment_id, released_at, release_reason FROM conversion_batch_members
    WHERE payment_id = ANY(${sql.array([...paymentIds], 'text')}) ORDER BY joined_at, batch_id, payment_id`);
}

const payoutBatchRow = z.object({
  batch_id: z.string(),
  reason: z.string(),
  state: z.string(),
  source_currency: z.string(),
  source_amount: decimal,
  payout_hash: z.string().nullable(),
  payout_amount: decimal.nullable(),
  failure_reason: z.string().nullable(),
  attempts: z.number().int(),
  retry_of: z.string().nullable(),
  origin_batch_id: z.string().nullable(),
  next_retry_at: z.date().nullable(),
  failed_at: z.date().nullable(),
  retries_exhausted_at: z.date().nullable(),
  created_at: z.date(),
});

async function payoutBatch(batchId: string) {
  return database.one(sql.type(payoutBatchRow)`
    SELECT batch_id, reason, state, source_currency, source_amount, payout_hash, payout_amount, failure_reason, attempts, retry_of, origin_batch_id,
           next_retry_at, failed_at, retries_exhausted_at, created_at
    FROM payout_batches WHERE batch_id = ${batchId}`);
}

async function retryOf(batchId: string) {
  return eventually(async () => {
    const retry = await database.maybeOne(sql.type(payoutBatchRow)`
      SELECT batch_id, reason, state, source_currency, source_amount, payout_hash, payout_amount, failure_reason, attempts, retry_of, origin_batch_id,
             next_retry_at, failed_at, retries_exhausted_at, created_at
      FROM payout_batches WHERE retry_of = ${batchId}`);
    expect(retry).not.toBeNull();
    return retry as z.infer<typeof payoutBatchRow>;
  }, wait);
}

async function payoutCommands(batchId: string): Promise<PayoutRequested[]> {
  return eventually(async () => {
    const commands = (await readTopic(endpoints, topicNames.payoutRequests)).map((record) => record.value as PayoutRequested).filter((command) => command.payout_batch_id === batchId);
    expect(commands.length).toBeGreaterThan(0);
    return commands;
  }, wait);
}

async function completionsOf(clientId: string): Promise<PayoutCompleted[]> {
  return (await readTopic(endpoints, topicNames.payoutsCompleted)).filter((record) => record.key === clientId).map((record) => record.value as PayoutCompleted);
}

function fraction(text: string): { numerator: bigint; denominator: bigint } {
  const [numerator, denominator] = text.split('/');
  if (numerator === undefined || denominator === undefined) throw new Error(`not a fraction: ${text}`);
  return { numerator: BigInt(numerator), denominator: BigInt(denominator) };
}

const baseUnits = (amount: Decimal): bigint => BigInt(amount.times(1_000_000).toFixed(0));

// ---- distribution ---------------------------------------------------------------------------

describe('a finished conversion', () => {
  it('shares exactly the USDT received over its payments, credits each client once, and a replay changes nothing', async () => {
    const alice = await registerClient(database, { thresholdUsd: '100000' });
    const bob = await registerClient(database, { thresholdUsd: '100000' });
    const { batchId, payments } = await plantConversionBatch(database, [
      { clientId: alice.clientId, usdGross: '50' },
      { clientId: alice.clientId, usdGross: '50' },
      { clientId: bob.clientId, usdGross: '23.17' },
    ]);
    const received = new Decimal('119.123457');
    await apply(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'CREATED', exchange_id: 'ex-conv-1', status: 'new' }));
    expect(await conversionBatch(batchId)).toMatchObject({ state: 'swapping', exchange_id: 'ex-conv-1', exchange_status: 'new' });
    const finished = await apply(
      swapEvent({
        command_id: batchId,
        command_kind: 'CONVERSION',
        type: 'FINISHED',
        exchange_id: 'ex-conv-1',
        status: 'finished',
        amount_from: new Decimal('0.03940333'),
        amount_to: received,
        payin_hash: '0xpayin',
        payout_hash: '0xpayout',
      }),
    );

    const batch = await conversionBatch(batchId);
    expect(batch).toMatchObject({ state: 'finished', exchange_id: 'ex-conv-1', payin_hash: '0xpayin', payout_hash: '0xpayout', exchange_status: 'finished' });
    expect(batch.usdt_received?.eq(received)).toBe(true);
    expect(batch.eth_sent?.eq('0.03940333')).toBe(true);

    const credits = await creditsOf(batchId);
    expect(credits).toHaveLength(3);
    expect(credits.reduce((sum, credit) => sum.plus(credit.usdt_amount), new Decimal(0)).eq(received)).toBe(true);
    const totalUsd = payments.reduce((sum, payment) => sum.plus(payment.usdNet), new Decimal(0));
    for (const credit of credits) {
      const payment = payments.find((candidate) => candidate.paymentId === credit.payment_id);
      if (payment === undefined) throw new Error('credit without payment');
      expect(credit.client_id).toBe(payment.clientId);
      expect(credit.wallet_address).toBe(alice.walletAddress);
      // Within one base unit of received × usd / Σ usd, and the recorded exact share is that value.
      const exact = received.times(payment.usdNet).div(totalUsd).times(1_000_000);
      expect(new Decimal(baseUnits(credit.usdt_amount).toString()).minus(exact).abs().lt(1)).toBe(true);
      const { numerator, denominator } = fraction(credit.exact_share);
      expect(new Decimal(numerator.toString()).div(denominator.toString()).minus(exact).abs().lt('1e-60')).toBe(true);
      expect(credit.rounding_applied.minus(credit.usdt_amount.minus(exact.div(1_000_000))).abs().lte('1e-18')).toBe(true);
      expect(credit).toMatchObject({ payout_batch_id: null, paid_out_at: null });
    }
    expect((await ledgerOf(payments.map((payment) => payment.paymentId))).map((row) => row.state)).toEqual(['converted', 'converted', 'converted']);

    const issued = await eventually(async () => {
      const records = (await readTopic(endpoints, topicNames.usdtCredits)).map((record) => record.value as CreditIssued).filter((credit) => credit.conversion_batch_id === batchId);
      expect(records).toHaveLength(3);
      return records;
    }, wait);
    for (const credit of credits) {
      const record = issued.find((candidate) => candidate.credit_id === credit.credit_id);
      expect(record?.usdt_amount.eq(credit.usdt_amount)).toBe(true);
      expect(record).toMatchObject({ client_id: credit.client_id, payment_id: credit.payment_id, wallet_address: credit.wallet_address, payout_currency: 'xmr' });
    }

    // The same event again (a replay), and the same outcome under a new event id: nothing changes.
    await send(finished);
    await apply({ ...finished, event_id: `${finished.event_id}-again` });
    expect(await creditsOf(batchId)).toEqual(credits);
    const contradiction = await send({ ...finished, event_id: `${finished.event_id}-other`, amount_to: new Decimal('200') });
    expect(await deadLetterOf(contradiction.event_id)).toMatchObject({ rule: 'one outcome per conversion' });
    const late = await send({ ...finished, event_id: `${finished.event_id}-failed`, type: 'FAILED', failure_reason: 'late' });
    expect(await deadLetterOf(late.event_id)).toMatchObject({ rule: 'one outcome per conversion' });
    expect(await creditsOf(batchId)).toEqual(credits);
    const issuedAfter = (await readTopic(endpoints, topicNames.usdtCredits)).filter((record) => (record.value as CreditIssued).conversion_batch_id === batchId);
    expect(issuedAfter).toHaveLength(3);
  }, 120_000);

  it('refuses a FINISHED without an amount, with more than 6 decimals, or for an unknown batch', async () => {
    const client = await registerClient(database, { thresholdUsd: '100000' });
    const { batchId } = await plantConversionBatch(database, [{ clientId: client.clientId, usdGross: '30' }]);
    const noAmount = await send(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED' }));
    expect(await deadLetterOf(noAmount.event_id)).toMatchObject({ rule: 'present on FINISHED' });
    const tooPrecise = await send(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED', amount_to: new Decimal('29.0000001') }));
    expect(await deadLetterOf(tooPrecise.event_id)).toMatchObject({ rule: 'USDT amount, at most 6 decimals, not negative' });
    const unknown = await send(swapEvent({ command_id: 'conv-unknown', command_kind: 'CONVERSION', type: 'FINISHED', amount_to: new Decimal('1') }));
    expect(await deadLetterOf(unknown.event_id)).toMatchObject({ rule: 'known conversion batch' });
    expect((await conversionBatch(batchId)).state).toBe('requested');
    // Finished properly afterwards, so the books this file leaves behind balance.
    await apply(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: 'ex-conv-2', amount_to: new Decimal('29.1') }));
    expect((await conversionBatch(batchId)).state).toBe('finished');
  }, 120_000);
});

describe('a conversion that failed or received nothing', () => {
  it('fails a batch that failed before any pay-in with its reason and sends its payments back to pending, visibly, notifying the accumulator', async () => {
    const client = await registerClient(database, { thresholdUsd: '100000' });
    const { batchId, payments } = await plantConversionBatch(database, [
      { clientId: client.clientId, usdGross: '12' },
      { clientId: client.clientId, usdGross: '13' },
    ]);
    const paymentIds = payments.map((payment) => payment.paymentId).sort();
    const notificationsBefore = ledgerNotifications.length;
    // No exchange was ever stored (ChangeNow refused the create), so no pay-in was requested.
    const reason = 'ChangeNow rejected the exchange: out_of_range';
    await apply(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FAILED', failure_reason: reason }));

    const batch = await conversionBatch(batchId);
    expect(batch).toMatchObject({ state: 'failed', failure_reason: reason, exchange_id: null, usdt_received: null });
    expect(batch.failed_at).not.toBeNull();
    expect(await ledgerOf(paymentIds)).toEqual(paymentIds.map((paymentId) => ({ payment_id: paymentId, state: 'pending_conversion', conversion_batch_id: null, paid_out_at: null })));
    expect(await membershipsOf(paymentIds)).toEqual(
      paymentIds.map((paymentId) => ({
        batch_id: batchId,
        payment_id: paymentId,
        released_at: expect.any(Date) as Date,
        release_reason: `conversion failed: ${reason}`,
      })),
    );
    expect(await creditsOf(batchId)).toEqual([]);
    // The payload says what went back (count, exact USD net sum, oldest received_at), for the accumulator's running summary.
    const returned = await database.one(sql.type(z.object({ usd_net: decimalColumn, oldest: z.date() }))`
      SELECT sum(usd_net) AS usd_net, min(received_at) AS oldest FROM payment_ledger WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}::text[])`);
    await eventually(() => {
      const arrivals = ledgerNotifications.slice(notificationsBefore).map(decodeLedgerPending);
      expect(arrivals).toContainEqual({ kind: 'arrival', arrival: { count: 2, usdNet: returned.usd_net, oldestReceivedAt: returned.oldest } });
    }, wait);
  }, 120_000);

  it('holds a batch that finished with zero USDT (its pay-in arrived) for recovery: payments stay members, never back to pending', async () => {
    const client = await registerClient(database, { thresholdUsd: '100000' });
    const { batchId, payments } = await plantConversionBatch(database, [
      { clientId: client.clientId, usdGross: '12' },
      { clientId: client.clientId, usdGross: '13' },
    ]);
    const paymentIds = payments.map((payment) => payment.paymentId).sort();
    await apply(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: 'ex-zero', status: 'finished', amount_to: new Decimal('0'), payin_hash: '0xzero' }));

    expect(await conversionBatch(batchId)).toMatchObject({ state: 'needs_recovery', failure_reason: 'the exchange finished with zero USDT received', exchange_id: 'ex-zero', payin_hash: '0xzero' });
    expect(await ledgerOf(paymentIds)).toEqual(paymentIds.map((paymentId) => ({ payment_id: paymentId, state: 'needs_recovery', conversion_batch_id: batchId, paid_out_at: null })));
    expect(await membershipsOf(paymentIds)).toEqual(paymentIds.map((paymentId) => ({ batch_id: batchId, payment_id: paymentId, released_at: null, release_reason: null })));
    expect(await creditsOf(batchId)).toEqual([]);
    // A later FAILED changes nothing; the books stay consistent while the operator decides.
    await apply(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FAILED', exchange_id: 'ex-zero', status: 'failed' }));
    expect(await conversionBatch(batchId)).toMatchObject({ state: 'needs_recovery' });
    expect(await findViolations(database)).toEqual([]);
    // Resolved here so the other files' books do not carry an open recovery.
    await database.query(sql.unsafe`
      UPDATE conversion_recoveries SET resolution = 'written_off', resolved_by = 'test', resolved_at = now(), note = 'test cleanup' WHERE batch_id = ${batchId}`);
    await database.query(sql.unsafe`UPDATE conversion_batches SET state = 'written_off' WHERE batch_id = ${batchId}`);
    await database.query(sql.unsafe`UPDATE payment_ledger SET state = 'written_off' WHERE conversion_batch_id = ${batchId}`);
    expect(await findViolations(database)).toEqual([]);
  }, 120_000);

  it('after a FAILED, the accumulator batches the payments again and both memberships stay visible', async () => {
    const client = await registerClient(database, { thresholdUsd: '100000' });
    const { batchId, payments } = await plantConversionBatch(database, [
      { clientId: client.clientId, usdGross: '30' },
      { clientId: client.clientId, usdGross: '31' },
    ]);
    const paymentIds = payments.map((payment) => payment.paymentId).sort();
    const log = createLogger({ name: 'accumulator', level: 'silent' });
    // The default micro-batch threshold (20) is below these payments' 59.17 USD net.
    const accumulator = await startAccumulator({ config: loadConfig({ ...testStackEnvironment(process.env), WINDOW_PUNCTUATION_INTERVAL: '1h' }), endpoints, port: 0, log });
    try {
      // The pay-in transfer itself failed on chain (the connector reports the exchange's last status).
      const reason = 'pay-in transfer reverted: out of gas';
      await apply(swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FAILED', exchange_id: 'ex-failed', status: 'waiting', failure_reason: reason }));
      expect(await conversionBatch(batchId)).toMatchObject({ state: 'failed', failure_reason: reason, exchange_status: 'waiting' });
      const rebatched = await eventually(async () => {
        const rows = await ledgerOf(paymentIds);
        expect(rows.every((row) => row.state === 'swapping' && row.conversion_batch_id !== null && row.conversion_batch_id !== batchId)).toBe(true);
        return rows;
      }, wait);
      const newBatchId = rebatched[0]?.conversion_batch_id;
      const history = await membershipsOf(paymentIds);
      expect(history.filter((row) => row.batch_id === batchId).every((row) => row.released_at !== null && row.release_reason === `conversion failed: ${reason}`)).toBe(true);
      expect(history.filter((row) => row.batch_id === newBatchId)).toEqual(paymentIds.map((paymentId) => ({ batch_id: newBatchId, payment_id: paymentId, released_at: null, release_reason: null })));
    } finally {
      await accumulator.stop();
    }
  }, 120_000);
});

// ---- payouts ---------------------------------------------------------------------------------

describe('an instant payout', () => {
  it('is paid only by a FINISHED with a payout hash, once, and announced once on payouts-completed', async () => {
    const client = await registerClient(database, { strategy: 'instant' });
    const { payment, batchId } = await plantInstantPayment(database, client, '100');
    await apply(swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'CREATED', exchange_id: 'ex-instant-1', status: 'waiting' }));
    expect((await payoutBatch(batchId)).state).toBe('swapping');

    const noHash = await send(swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FINISHED', exchange_id: 'ex-instant-1', amount_to: new Decimal('0.21') }));
    expect(await deadLetterOf(noHash.event_id)).toMatchObject({ rule: 'present on FINISHED' });
    expect((await payoutBatch(batchId)).state).toBe('swapping');
    expect((await ledgerOf([payment.paymentId]))[0]?.paid_out_at).toBeNull();

    const finished = await apply(
      swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FINISHED', exchange_id: 'ex-instant-1', status: 'finished', amount_to: new Decimal('0.21'), payin_hash: '0xin', payout_hash: 'xmr-hash-1' }),
    );
    const batch = await payoutBatch(batchId);
    expect(batch).toMatchObject({ state: 'finished', payout_hash: 'xmr-hash-1' });
    expect(batch.payout_amount?.eq('0.21')).toBe(true);
    const [ledger] = await ledgerOf([payment.paymentId]);
    expect(ledger).toMatchObject({ state: 'instant_payout' });
    expect(ledger?.paid_out_at).not.toBeNull();

    await send(finished);
    await apply({ ...finished, event_id: `${finished.event_id}-again` });
    const otherHash = await send({ ...finished, event_id: `${finished.event_id}-other`, payout_hash: 'xmr-hash-2' });
    expect(await deadLetterOf(otherHash.event_id)).toMatchObject({ rule: 'one outcome per payout' });
    const failedLate = await send(swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FAILED', failure_reason: 'late' }));
    expect(await deadLetterOf(failedLate.event_id)).toMatchObject({ rule: 'one outcome per payout' });
    expect((await ledgerOf([payment.paymentId]))[0]?.paid_out_at).toEqual(ledger?.paid_out_at);

    const completed = await eventually(async () => {
      const records = await completionsOf(client.clientId);
      expect(records).toHaveLength(1);
      return records;
    }, wait);
    expect(completed[0]).toMatchObject({
      payout_batch_id: batchId,
      client_id: client.clientId,
      source_currency: 'eth',
      payout_currency: 'xmr',
      wallet_address: client.walletAddress,
      exchange_id: 'ex-instant-1',
      payin_hash: '0xin',
      payout_hash: 'xmr-hash-1',
    });
    expect(completed[0]?.source_amount.eq(payment.ethNet)).toBe(true);
    expect(completed[0]?.usd_value.eq(payment.usdNet)).toBe(true);
    expect(completed[0]?.payout_amount.eq('0.21')).toBe(true);
  }, 120_000);

  it('that failed is retried with backoff as a new command, paid once by the retry, and an unknown payout batch is dead-lettered', async () => {
    const client = await registerClient(database, { strategy: 'instant' });
    const { payment, batchId } = await plantInstantPayment(database, client, '80');
    await apply(swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FAILED', exchange_id: 'ex-fail-1', status: 'failed', failure_reason: 'exchange expired' }));
    const failed = await payoutBatch(batchId);
    expect(failed).toMatchObject({ state: 'failed', failure_reason: 'exchange expired', attempts: 0 });
    if (failed.failed_at === null) throw new Error('failed_at missing');

    const retry = await retryOf(batchId);
    expect(retry).toMatchObject({ reason: 'retry', state: 'requested', source_currency: 'eth', attempts: 1, retry_of: batchId, origin_batch_id: batchId });
    expect(retry.source_amount.eq(payment.ethNet)).toBe(true);
    // Not before the backoff (PAYOUT_RETRY_BACKOFF × 2^0) has passed since the failure.
    expect(retry.created_at.getTime() - failed.failed_at.getTime()).toBeGreaterThanOrEqual(retryBackoffMs - 5);
    expect((await payoutBatch(batchId)).next_retry_at).toBeNull();
    const [command, ...others] = await payoutCommands(retry.batch_id);
    expect(others).toHaveLength(0);
    expect(command).toMatchObject({ command_id: retry.batch_id, reason: 'RETRY', from_currency: 'eth', to_currency: 'xmr', payout_address: client.walletAddress, client_id: client.clientId });
    expect(command?.amount.eq(payment.ethNet)).toBe(true);

    await apply(swapEvent({ command_id: retry.batch_id, command_kind: 'PAYOUT', type: 'FINISHED', exchange_id: 'ex-fail-2', amount_to: new Decimal('0.2'), payout_hash: 'xmr-retry-hash' }));
    expect((await payoutBatch(retry.batch_id)).state).toBe('finished');
    expect((await payoutBatch(batchId)).state).toBe('failed');
    expect((await ledgerOf([payment.paymentId]))[0]?.paid_out_at).not.toBeNull();
    const completions = await eventually(async () => {
      const records = await completionsOf(client.clientId);
      expect(records).toHaveLength(1);
      return records;
    }, wait);
    expect(completions[0]).toMatchObject({ payout_batch_id: retry.batch_id, payout_hash: 'xmr-retry-hash' });

    const unknown = await send(swapEvent({ command_id: 'payout-unknown', command_kind: 'PAYOUT', type: 'FINISHED', payout_hash: 'h', amount_to: new Decimal('1') }));
    expect(await deadLetterOf(unknown.event_id)).toMatchObject({ rule: 'known payout batch' });
  }, 120_000);

  it('stops retrying after PAYOUT_RETRY_ATTEMPTS_MAX automatic retries and says so', async () => {
    const client = await registerClient(database, { strategy: 'instant' });
    const { batchId } = await plantInstantPayment(database, client, '60');
    await apply(swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FAILED', failure_reason: 'first' }));
    const first = await retryOf(batchId);
    await apply(swapEvent({ command_id: first.batch_id, command_kind: 'PAYOUT', type: 'FAILED', failure_reason: 'second' }));
    const second = await retryOf(first.batch_id);
    expect(second).toMatchObject({ attempts: 2, origin_batch_id: batchId });
    await apply(swapEvent({ command_id: second.batch_id, command_kind: 'PAYOUT', type: 'FAILED', failure_reason: 'third' }));
    const exhausted = await payoutBatch(second.batch_id);
    expect(exhausted).toMatchObject({ state: 'failed', failure_reason: 'third', next_retry_at: null });
    expect(exhausted.retries_exhausted_at).not.toBeNull();
    // Four backoffs later there is still no third retry.
    await new Promise((resolve) => setTimeout(resolve, 4 * retryBackoffMs));
    expect(await database.maybeOne(sql.unsafe`SELECT batch_id FROM payout_batches WHERE retry_of = ${second.batch_id}`)).toBeNull();
    const metrics = await (await fetch(`${settlement.url}/metrics`)).text();
    expect(metrics).toMatch(/settlement_payout_retries_exhausted_total\{[^}]*\} [1-9]/);
  }, 120_000);
});
