// Proves the per-client window and "paid only when paid" on the real stack: settlement runs as its
// own process (`cli run settlement`), asks the stack's ChangeNow simulator for ranges and fee
// estimates, is driven through swap-events (conversions that credit clients, payouts that finish
// or fail) and through the admin API (manual trigger, retry, balance, lineage). Covered: the
// threshold trigger, a wallet change giving separate payouts per address, the manual trigger,
// splitting above PAYOUT_MAX_SWAP_USD and above the pair's maximum, waiting below the pair's
// minimum, the fee floor (held unless forced), a failed payout retried without a double payout,
// an operator retry of an exhausted chain, and — with an injected clock — the max-age trigger.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { headerText } from '../../core/kafka/kafka-client.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { findViolations } from '../../db/reconciliation.ts';
import type { PayoutCompleted, PayoutRequested } from '../../schemas/generated/records.ts';
import { deadLetterTopicOf, topicNames } from '../../topics/topics.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { startProcessorProcess, type ProcessorProcess } from '../../test/support/processor-process.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { openTopicProducer, type TopicProducer } from '../../test/support/topic-producer.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { resetSimulator, setPairRange, localChangeNowApiKey } from '../../test/support/changenow-simulator.ts';
import { changeWallet, plantConversionBatch, plantInstantPayment, produceSwapEvent, registerClient, swapEvent, xmrWalletB, type TestClient } from '../../test/support/settlement-fixtures.ts';
import { startAdmin, type RunningAdmin } from '../admin/start-admin.ts';
import { singleAdminTokenName } from '../admin/admin-tokens.ts';
import { settlementConsumerGroup, startSettlement, type RunningSettlement } from './start-settlement.ts';

const endpoints = inject('endpoints');
const wait = { timeoutMs: 45_000, intervalMs: 200 };
const adminToken = 'test-admin-token-0123456789abcdef';
const dayMs = 86_400_000;
const trxWallet = 'TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL';
const settlementEnvironment = { PAYOUT_RETRY_BACKOFF: '1s', PAYOUT_RETRY_ATTEMPTS_MAX: '1', WINDOW_PUNCTUATION_INTERVAL: '200ms', PAYOUT_MAX_SWAP_USD: '5000', PAYOUT_FEE_FLOOR_PERCENT: '2' };

let database: DatabasePool;
let producer: TopicProducer;
let settlement: ProcessorProcess | undefined;
let clockedSettlement: RunningSettlement | undefined;
let admin: RunningAdmin;

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(endpoints);
  const config = loadConfig({ ...testStackEnvironment(process.env), ADMIN_TOKEN: adminToken });
  admin = await startAdmin({ config, endpoints, port: 0, log: createLogger({ name: 'admin', level: 'silent' }), cooldownSweepIntervalMs: 0 });
  // Ranges the simulator answers for these pairs from now on (its default for USDT is 10 to 20,000).
  await setPairRange({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'sol', toNetwork: 'sol', minAmount: new Decimal('10'), maxAmount: new Decimal('3000') });
  await setPairRange({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'btc', toNetwork: 'btc', minAmount: new Decimal('200'), maxAmount: null });
  settlement = await startProcessorProcess('settlement', 'SETTLEMENT_PORT', { environment: settlementEnvironment, readyTimeoutMs: 120_000 });
});

afterAll(async () => {
  if (settlement !== undefined) expect(await settlement.terminate()).toBe(0);
  await clockedSettlement?.stop();
  await admin?.stop();
  await producer?.close();
  await resetSimulator();
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

/** A finished one-payment conversion: the client is credited exactly `usdt`. */
async function credit(client: TestClient, usdt: string): Promise<void> {
  const { batchId } = await plantConversionBatch(database, [{ clientId: client.clientId, usdGross: usdt }]);
  const event = swapEvent({ command_id: batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: `ex-${batchId}`, amount_to: new Decimal(usdt), payout_hash: `0x${batchId}` });
  await produceSwapEvent(producer, event);
  await processed(event.event_id);
}

/** Several evaluations (punctuation every 200 ms) after the last change: what the window left alone stays alone. */
async function windowSettled(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1_200));
}

const batchRow = z.object({
  batch_id: z.string(),
  reason: z.string(),
  state: z.string(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  source_currency: z.string(),
  source_amount: decimal,
  retry_of: z.string().nullable(),
  attempts: z.number().int(),
  failure_reason: z.string().nullable(),
});
type BatchRow = z.infer<typeof batchRow>;

async function payoutBatchesOf(clientId: string): Promise<readonly BatchRow[]> {
  return database.any(sql.type(batchRow)`
    SELECT batch_id, reason, state, wallet_address, payout_currency, source_currency, source_amount, retry_of, attempts, failure_reason
    FROM payout_batches WHERE client_id = ${clientId} ORDER BY created_at, source_amount DESC, batch_id`);
}

async function payoutBatchesFormed(clientId: string, expected: number): Promise<readonly BatchRow[]> {
  return eventually(async () => {
    const batches = await payoutBatchesOf(clientId);
    expect(batches).toHaveLength(expected);
    return batches;
  }, wait);
}

const amounts = (batches: readonly BatchRow[]): string[] => batches.map((batch) => batch.source_amount.toFixed());

async function commandsFor(batchId: string): Promise<PayoutRequested[]> {
  return eventually(async () => {
    const commands = (await readTopic(endpoints, topicNames.payoutRequests)).map((record) => record.value as PayoutRequested).filter((command) => command.payout_batch_id === batchId);
    expect(commands.length).toBeGreaterThan(0);
    return commands;
  }, wait);
}

async function finishPayout(batchId: string, payoutHash: string | null, amountTo = '1'): Promise<string> {
  const event = swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FINISHED', exchange_id: `ex-${batchId}`, amount_to: new Decimal(amountTo), payout_hash: payoutHash, payin_hash: `0xin-${batchId}` });
  await produceSwapEvent(producer, event);
  return event.event_id;
}

async function failPayout(batchId: string, reason: string): Promise<void> {
  const event = swapEvent({ command_id: batchId, command_kind: 'PAYOUT', type: 'FAILED', exchange_id: `ex-${batchId}`, status: 'failed', failure_reason: reason });
  await produceSwapEvent(producer, event);
  await processed(event.event_id);
}

async function deadLetterOf(eventId: string): Promise<string | undefined> {
  return eventually(async () => {
    const letter = (await readTopic(endpoints, deadLetterTopicOf(topicNames.swapEvents))).find((record) => headerText(record.headers, 'dlq-message-id') === eventId);
    expect(letter).toBeDefined();
    return headerText(letter?.headers, 'dlq-rule');
  }, wait);
}

const creditStateRow = z.object({ credit_id: z.string(), usdt_amount: decimal, payout_batch_id: z.string().nullable(), paid_out_at: z.date().nullable(), ledger_paid_out_at: z.date().nullable() });

async function creditsOf(clientId: string) {
  return database.any(sql.type(creditStateRow)`
    SELECT c.credit_id, c.usdt_amount, c.payout_batch_id, c.paid_out_at, l.paid_out_at AS ledger_paid_out_at
    FROM usdt_credits c JOIN payment_ledger l ON l.payment_id = c.payment_id WHERE c.client_id = ${clientId} ORDER BY c.credited_at, c.credit_id`);
}

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function api(method: 'GET' | 'POST', path: string): Promise<ApiAnswer> {
  const response = await fetch(`${admin.url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'x-actor': 'ops@example.com' } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface BalanceGroupView {
  state: string;
  reason: string;
  wallet_address: string;
  amount: string;
  amount_missing_usdt: string | null;
  payout_batch_id: string | null;
  error: string | null;
  next_attempt_at: string | null;
}

async function balanceOf(clientId: string): Promise<{ groups: BalanceGroupView[]; totals: Record<string, string> }> {
  const answer = await api('GET', `/api/clients/${clientId}/balance`);
  expect(answer.status).toBe(200);
  return answer.body as unknown as { groups: BalanceGroupView[]; totals: Record<string, string> };
}

async function balanceStates(clientId: string): Promise<string[]> {
  return (await balanceOf(clientId)).groups.map((group) => group.state);
}

// ---- the window -----------------------------------------------------------------------------

describe('the threshold trigger', () => {
  it('waits below the threshold, pays the group once it is reached, and marks it paid only when the payout finished with a hash', async () => {
    const client = await registerClient(database, { thresholdUsd: '100' });
    await credit(client, '60');
    await windowSettled();
    expect(await payoutBatchesOf(client.clientId)).toEqual([]);
    const [waiting] = (await balanceOf(client.clientId)).groups;
    expect(waiting).toMatchObject({ state: 'below_threshold', amount: '60', amount_missing_usdt: '40', wallet_address: client.walletAddress });

    await credit(client, '50');
    const [batch] = await payoutBatchesFormed(client.clientId, 1);
    if (batch === undefined) throw new Error('no batch');
    expect(batch).toMatchObject({ reason: 'threshold', state: 'requested', source_currency: 'usdt', payout_currency: 'xmr', wallet_address: client.walletAddress });
    expect(batch.source_amount.eq(110)).toBe(true);
    const [command, ...more] = await commandsFor(batch.batch_id);
    expect(more).toHaveLength(0);
    expect(command).toMatchObject({ command_id: batch.batch_id, reason: 'THRESHOLD', from_currency: 'usdt', from_network: 'eth', to_currency: 'xmr', to_network: 'xmr', payout_address: client.walletAddress });
    expect(command?.amount.eq(110)).toBe(true);
    expect(command?.usd_value.eq(110)).toBe(true);
    expect(await balanceStates(client.clientId)).toEqual(['payout_in_flight']);

    // Not paid by a FINISHED without its payout hash.
    const noHash = await finishPayout(batch.batch_id, null);
    expect(await deadLetterOf(noHash)).toBe('present on FINISHED');
    expect((await creditsOf(client.clientId)).every((row) => row.payout_batch_id === batch.batch_id && row.paid_out_at === null && row.ledger_paid_out_at === null)).toBe(true);

    await processed(await finishPayout(batch.batch_id, 'xmr-threshold-hash', '0.7'));
    const paid = await creditsOf(client.clientId);
    expect(paid.every((row) => row.payout_batch_id === batch.batch_id && row.paid_out_at !== null && row.ledger_paid_out_at !== null)).toBe(true);
    const completed = await eventually(async () => {
      const records = (await readTopic(endpoints, topicNames.payoutsCompleted)).filter((record) => record.key === client.clientId).map((record) => record.value as PayoutCompleted);
      expect(records).toHaveLength(1);
      return records;
    }, wait);
    expect(completed[0]).toMatchObject({ payout_batch_id: batch.batch_id, source_currency: 'usdt', payout_hash: 'xmr-threshold-hash', wallet_address: client.walletAddress });
    expect(completed[0]?.source_amount.eq(110)).toBe(true);
    const after = await balanceOf(client.clientId);
    expect(after.groups).toEqual([]);
    expect(after.totals).toEqual({ credited_usdt: '110', paid_out_usdt: '110', unpaid_usdt: '0' });

    const lineage = await api('GET', `/api/payout-batches/${batch.batch_id}`);
    expect(lineage.status).toBe(200);
    const body = lineage.body as { payout_batch: Record<string, unknown>; credits: { usdt_amount: string; payment: Record<string, unknown>; conversion: Record<string, unknown> }[] };
    expect(body.payout_batch).toMatchObject({ state: 'finished', source_amount: '110', payout_amount: '0.7', payout_hash: 'xmr-threshold-hash' });
    expect(body.payout_batch['payout_per_source_unit']).toBe(new Decimal('0.7').div(110).toSignificantDigits(18).toFixed());
    expect(body.credits.map((entry) => entry.usdt_amount)).toEqual(['60', '50']);
    expect(body.credits[0]?.payment).toMatchObject({ usd_gross: '60', platform_fee_percent: '3', platform_fee_usd: '1.8', usd_net: '58.2', usd_per_eth: '3000' });
    expect(body.credits[0]?.conversion).toMatchObject({ state: 'finished', usdt_received: '60', total_usd: '58.2' });
  }, 120_000);
});

describe('a wallet change mid-accumulation', () => {
  it('keeps the credits of each address apart: separate payouts per address, the old one by the manual trigger', async () => {
    const client = await registerClient(database, { thresholdUsd: '50' });
    await credit(client, '40');
    await changeWallet(database, client.clientId, xmrWalletB);
    await credit(client, '60');
    const [toB] = await payoutBatchesFormed(client.clientId, 1);
    expect(toB).toMatchObject({ reason: 'threshold', wallet_address: xmrWalletB });
    expect(toB?.source_amount.eq(60)).toBe(true);
    await windowSettled();
    const balance = await balanceOf(client.clientId);
    expect(balance.groups.map((group) => [group.state, group.wallet_address, group.amount])).toEqual([
      ['below_threshold', client.walletAddress, '40'],
      ['payout_in_flight', xmrWalletB, '60'],
    ]);

    const requested = await api('POST', `/api/clients/${client.clientId}/payouts`);
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ outcome: 'requested', free_credits: 1, free_unpaid_usdt: '40', request: { status: 'open', requested_by: 'admin' } });
    const requestId = (requested.body['request'] as { request_id: string }).request_id;
    const batches = await payoutBatchesFormed(client.clientId, 2);
    const toA = batches.find((batch) => batch.wallet_address === client.walletAddress);
    expect(toA).toMatchObject({ reason: 'manual', state: 'requested' });
    expect(toA?.source_amount.eq(40)).toBe(true);
    const [command] = await commandsFor(toA?.batch_id ?? '');
    expect(command).toMatchObject({ reason: 'MANUAL', payout_address: client.walletAddress });
    const answered = await eventually(async () => {
      const found = await api('GET', `/api/payout-requests/${requestId}`);
      expect(found.body).toMatchObject({ request: { status: 'handled' } });
      return found.body as { request: { outcome: string } };
    }, wait);
    expect(answered.request.outcome).toContain(toA?.batch_id ?? 'missing');

    expect((await api('POST', `/api/clients/${client.clientId}/payouts`)).body).toMatchObject({ error: { code: 'nothing_to_pay' } });
    expect((await api('POST', '/api/clients/-1000000000001/payouts')).status).toBe(404);
    for (const batch of batches) await processed(await finishPayout(batch.batch_id, `hash-${batch.batch_id}`));
    expect((await creditsOf(client.clientId)).every((row) => row.paid_out_at !== null)).toBe(true);
  }, 120_000);
});

describe('splitting', () => {
  it('splits above PAYOUT_MAX_SWAP_USD, and above the pair maximum when that is lower, into batches of whole credits', async () => {
    const big = await registerClient(database, { thresholdUsd: '1000', payoutCurrency: 'ltc', payoutNetwork: 'ltc' });
    const conversion = await plantConversionBatch(database, [
      { clientId: big.clientId, usdGross: '2400' },
      { clientId: big.clientId, usdGross: '2400' },
      { clientId: big.clientId, usdGross: '2400' },
    ]);
    const finished = swapEvent({ command_id: conversion.batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: 'ex-split', amount_to: new Decimal('6900') });
    await produceSwapEvent(producer, finished);
    await processed(finished.event_id);
    expect(amounts(await payoutBatchesFormed(big.clientId, 2))).toEqual(['4600', '2300']);

    const capped = await registerClient(database, { thresholdUsd: '1000', payoutCurrency: 'sol', payoutNetwork: 'sol' });
    const second = await plantConversionBatch(database, [
      { clientId: capped.clientId, usdGross: '2400' },
      { clientId: capped.clientId, usdGross: '2400' },
      { clientId: capped.clientId, usdGross: '2400' },
    ]);
    const secondFinished = swapEvent({ command_id: second.batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: 'ex-split-2', amount_to: new Decimal('6900') });
    await produceSwapEvent(producer, secondFinished);
    await processed(secondFinished.event_id);
    const cappedBatches = await payoutBatchesFormed(capped.clientId, 3);
    expect(amounts(cappedBatches)).toEqual(['2300', '2300', '2300']);
    for (const batch of [...(await payoutBatchesOf(big.clientId)), ...cappedBatches]) await processed(await finishPayout(batch.batch_id, `hash-${batch.batch_id}`));
  }, 120_000);
});

describe('exchange limits and fees', () => {
  it('waits below the pair minimum, even when asked, and pays once the group reaches it', async () => {
    const client = await registerClient(database, { thresholdUsd: '50', payoutCurrency: 'btc', payoutNetwork: 'btc', walletAddress: '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa' });
    await credit(client, '80');
    const held = await eventually(async () => {
      const [group] = (await balanceOf(client.clientId)).groups;
      expect(group?.state).toBe('below_exchange_minimum');
      return group;
    }, wait);
    expect(held).toMatchObject({ amount: '80', amount_missing_usdt: '120' });
    const requested = await api('POST', `/api/clients/${client.clientId}/payouts`);
    expect(requested.status).toBe(202);
    const requestId = (requested.body['request'] as { request_id: string }).request_id;
    const answered = await eventually(async () => {
      const found = await api('GET', `/api/payout-requests/${requestId}`);
      expect(found.body).toMatchObject({ request: { status: 'handled' } });
      return found.body as { request: { outcome: string } };
    }, wait);
    expect(answered.request.outcome).toContain('below_exchange_minimum');
    expect(await payoutBatchesOf(client.clientId)).toEqual([]);

    await credit(client, '150');
    const [batch] = await payoutBatchesFormed(client.clientId, 1);
    expect(batch?.source_amount.eq(230)).toBe(true);
    await processed(await finishPayout(batch?.batch_id ?? '', 'btc-hash'));
  }, 120_000);

  it('holds a payout whose estimated fees exceed PAYOUT_FEE_FLOOR_PERCENT, until an operator forces it', async () => {
    // USDT on Tron: the simulator's withdrawal fee of 1 USDT is 2.2% of 45 USDT.
    const client = await registerClient(database, { thresholdUsd: '40', payoutCurrency: 'usdt', payoutNetwork: 'trx', walletAddress: trxWallet });
    await credit(client, '45');
    const held = await eventually(async () => {
      const [group] = (await balanceOf(client.clientId)).groups;
      expect(group?.state).toBe('fee_floor_not_met');
      return group;
    }, wait);
    expect(held?.reason).toMatch(/% of 45 USDT, above the 2% floor/);
    await windowSettled();
    expect(await payoutBatchesOf(client.clientId)).toEqual([]);

    expect((await api('POST', `/api/clients/${client.clientId}/payouts`)).status).toBe(202);
    const [batch] = await payoutBatchesFormed(client.clientId, 1);
    expect(batch).toMatchObject({ reason: 'manual', payout_currency: 'usdt' });
    await processed(await finishPayout(batch?.batch_id ?? '', 'trx-hash'));
  }, 120_000);
});

describe('a failed payout', () => {
  it('releases its credits for a retry with backoff, never batches them twice, and pays them once', async () => {
    const client = await registerClient(database, { thresholdUsd: '50' });
    await credit(client, '70');
    const [first] = await payoutBatchesFormed(client.clientId, 1);
    if (first === undefined) throw new Error('no batch');
    await failPayout(first.batch_id, 'exchange expired');
    const released = await creditsOf(client.clientId);
    expect(released.every((row) => row.payout_batch_id === null && row.paid_out_at === null)).toBe(true);
    const retrying = (await balanceOf(client.clientId)).groups;
    expect(retrying).toMatchObject([{ state: 'failed_retrying', error: 'exchange expired', payout_batch_id: first.batch_id }]);
    expect(retrying[0]?.next_attempt_at).not.toBeNull();

    const batches = await payoutBatchesFormed(client.clientId, 2);
    const retry = batches.find((batch) => batch.retry_of === first.batch_id);
    expect(retry).toMatchObject({ reason: 'retry', state: 'requested', attempts: 1, wallet_address: client.walletAddress });
    expect(retry?.source_amount.eq(70)).toBe(true);
    expect((await creditsOf(client.clientId)).every((row) => row.payout_batch_id === retry?.batch_id)).toBe(true);
    const [command] = await commandsFor(retry?.batch_id ?? '');
    expect(command).toMatchObject({ reason: 'RETRY', command_id: retry?.batch_id });

    await processed(await finishPayout(retry?.batch_id ?? '', 'retry-hash'));
    // The failed batch's exchange reporting success after all must not pay the credits again.
    const late = await finishPayout(first.batch_id, 'late-hash');
    expect(await deadLetterOf(late)).toBe('one outcome per payout');
    const paid = await creditsOf(client.clientId);
    expect(paid.every((row) => row.payout_batch_id === retry?.batch_id && row.paid_out_at !== null)).toBe(true);
    await windowSettled();
    expect(await payoutBatchesOf(client.clientId)).toHaveLength(2);

    const lineage = await api('GET', `/api/payout-batches/${retry?.batch_id ?? ''}`);
    expect(lineage.body).toMatchObject({
      payout_batch: { reason: 'retry', retry_of: first.batch_id, origin_batch_id: first.batch_id, state: 'finished' },
      retry_chain: [{ batch_id: first.batch_id, state: 'failed', failure_reason: 'exchange expired' }, { batch_id: retry?.batch_id, state: 'finished' }],
    });
  }, 120_000);

  it('is retried by an operator once its automatic retries are used up; only a failed batch without a retry can be', async () => {
    const client = await registerClient(database, { thresholdUsd: '50' });
    await credit(client, '55');
    const [first] = await payoutBatchesFormed(client.clientId, 1);
    await failPayout(first?.batch_id ?? '', 'first failure');
    const second = (await payoutBatchesFormed(client.clientId, 2)).find((batch) => batch.retry_of === first?.batch_id);
    await failPayout(second?.batch_id ?? '', 'second failure');
    await windowSettled();
    expect(await payoutBatchesOf(client.clientId)).toHaveLength(2);
    const [exhausted] = (await balanceOf(client.clientId)).groups;
    expect(exhausted).toMatchObject({ state: 'failed_retrying', payout_batch_id: second?.batch_id, error: 'second failure', next_attempt_at: null });
    expect(exhausted?.reason).toContain('an operator must retry it');

    expect((await api('POST', `/api/payout-batches/${first?.batch_id ?? ''}/retry`)).body).toMatchObject({ error: { code: 'payout_batch_already_retried' } });
    expect((await api('POST', '/api/payout-batches/no-such-batch/retry')).status).toBe(404);
    const retried = await api('POST', `/api/payout-batches/${second?.batch_id ?? ''}/retry`);
    expect(retried.status).toBe(202);
    // Accepted, not done: settlement schedules the retry under its lock and records the outcome on the request.
    expect(retried.body).toMatchObject({ outcome: 'retry_requested', batch_id: second?.batch_id, requested_by: singleAdminTokenName, request: { batch_id: second?.batch_id } });
    const { request_id: retryRequestId } = z.object({ request: z.object({ request_id: z.string() }) }).parse(retried.body).request;
    const third = (await payoutBatchesFormed(client.clientId, 3)).find((batch) => batch.retry_of === second?.batch_id);
    expect(third).toMatchObject({ reason: 'retry', state: 'requested', attempts: 2 });
    await eventually(async () => {
      const handled = await api('GET', `/api/payout-retry-requests/${retryRequestId}`);
      expect(handled.body).toMatchObject({ request: { request_id: retryRequestId, status: 'handled', outcome: 'retry_scheduled' } });
    }, wait);
    expect((await api('GET', `/api/payout-batches/${second?.batch_id ?? ''}`)).body).toMatchObject({ payout_batch: { retry_requested_by: singleAdminTokenName } });
    expect((await api('GET', '/api/payout-retry-requests/no-such-request')).status).toBe(404);
    const notFailed = await api('POST', `/api/payout-batches/${third?.batch_id ?? ''}/retry`);
    expect(notFailed.status).toBe(409);
    expect(notFailed.body).toMatchObject({ error: { code: 'payout_batch_not_failed' } });
    await processed(await finishPayout(third?.batch_id ?? '', 'operator-hash'));
    expect((await creditsOf(client.clientId)).every((row) => row.paid_out_at !== null)).toBe(true);
  }, 120_000);
});

describe('two settlement instances', () => {
  it('form each payout once, whichever instance sees the crossing credit', async () => {
    const second = await startProcessorProcess('settlement', 'SETTLEMENT_PORT', { environment: settlementEnvironment, readyTimeoutMs: 120_000 });
    try {
      const clients = await Promise.all(Array.from({ length: 8 }, () => registerClient(database, { thresholdUsd: '50' })));
      const conversion = await plantConversionBatch(
        database,
        clients.flatMap((client) => [
          { clientId: client.clientId, usdGross: '30' },
          { clientId: client.clientId, usdGross: '30' },
        ]),
      );
      const finished = swapEvent({ command_id: conversion.batchId, command_kind: 'CONVERSION', type: 'FINISHED', exchange_id: 'ex-two', amount_to: new Decimal('960') });
      await produceSwapEvent(producer, finished);
      await processed(finished.event_id);
      for (const client of clients) {
        const [batch, ...more] = await payoutBatchesFormed(client.clientId, 1);
        expect(more).toEqual([]);
        expect(batch?.source_amount.eq(120)).toBe(true);
        expect((await commandsFor(batch?.batch_id ?? '')).length).toBe(1);
      }
      await windowSettled();
      for (const client of clients) {
        const [batch, ...more] = await payoutBatchesOf(client.clientId);
        expect(more).toEqual([]);
        await processed(await finishPayout(batch?.batch_id ?? '', `hash-${batch?.batch_id ?? ''}`));
      }
    } finally {
      expect(await second.terminate()).toBe(0);
    }
  }, 180_000);
});

describe('the balance and lineage APIs', () => {
  it('show payments not converted yet, including those back from a failed conversion, and an instant payout traced to its payment', async () => {
    const client = await registerClient(database, { thresholdUsd: '100' });
    const failed = await plantConversionBatch(database, [
      { clientId: client.clientId, usdGross: '10' },
      { clientId: client.clientId, usdGross: '10' },
    ]);
    const event = swapEvent({ command_id: failed.batchId, command_kind: 'CONVERSION', type: 'FAILED', failure_reason: 'expired' });
    await produceSwapEvent(producer, event);
    await processed(event.event_id);
    await plantConversionBatch(database, [{ clientId: client.clientId, usdGross: '20' }]);
    const [waiting, ...others] = (await balanceOf(client.clientId)).groups;
    expect(others).toEqual([]);
    expect(waiting).toMatchObject({ state: 'waiting_for_conversion', amount: '38.8', wallet_address: client.walletAddress });
    expect(waiting?.reason).toContain('3 payment(s) worth 38.8 USD');
    expect(waiting?.reason).toContain('1 swapping now, 2 back from a failed conversion');

    const instant = await registerClient(database, { strategy: 'instant' });
    const { payment, batchId } = await plantInstantPayment(database, instant, '90');
    expect((await balanceOf(instant.clientId)).groups).toMatchObject([{ state: 'payout_in_flight', payout_batch_id: batchId, amount: payment.ethNet.toFixed() }]);
    const lineage = await api('GET', `/api/payout-batches/${batchId}`);
    expect(lineage.status).toBe(200);
    expect(lineage.body).toMatchObject({
      payout_batch: { batch_id: batchId, reason: 'instant', source_currency: 'eth', state: 'requested' },
      credits: [],
      instant_payments: [{ payment_id: payment.paymentId, usd_gross: '90', usd_net: '87.3', eth_gross: '0.03', usd_per_eth: '3000', platform_fee_percent: '3' }],
    });
    expect((await api('GET', '/api/payout-batches/no-such-batch')).status).toBe(404);
    expect((await api('GET', '/api/payout-batches/bad%20id')).status).toBe(422);
    expect((await api('GET', '/api/clients/-1000000000001/balance')).status).toBe(404);
    await processed(await finishPayout(batchId, 'instant-hash'));
  }, 120_000);
});

describe('reconciliation on the admin API', () => {
  it('answers 200 with no violations for the books these tests made', async () => {
    const answer = await api('GET', '/api/reconciliation');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ok: true, violations: [] });
  }, 60_000);
});

// Last: an instance whose clock is 90 days ahead would pay every free group it sees by max age.
describe('the max-age trigger', () => {
  it('pays a group below its threshold and below the fee floor once its oldest credit is PAYOUT_MAX_AGE old (injected clock)', async () => {
    const client = await registerClient(database, { thresholdUsd: '500', payoutCurrency: 'usdt', payoutNetwork: 'trx', walletAddress: trxWallet });
    await credit(client, '20');
    await windowSettled();
    expect(await balanceStates(client.clientId)).toEqual(['below_threshold']);
    expect(await payoutBatchesOf(client.clientId)).toEqual([]);
    if (settlement !== undefined) expect(await settlement.terminate()).toBe(0);
    settlement = undefined;

    const clockOffsetMs = 90 * dayMs + 60_000;
    const config = loadConfig({ ...testStackEnvironment(process.env), ...settlementEnvironment, CHANGENOW_API_KEY: localChangeNowApiKey });
    clockedSettlement = await startSettlement({ config, endpoints, port: 0, now: () => new Date(Date.now() + clockOffsetMs), log: createLogger({ name: 'settlement', level: 'silent' }) });
    const [batch] = await payoutBatchesFormed(client.clientId, 1);
    expect(batch).toMatchObject({ reason: 'max_age', wallet_address: trxWallet });
    expect(batch?.source_amount.eq(20)).toBe(true);
    const [command] = await commandsFor(batch?.batch_id ?? '');
    expect(command).toMatchObject({ reason: 'MAX_AGE' });
    const finished = await finishPayout(batch?.batch_id ?? '', 'aged-hash');
    await processed(finished);
    // Every other group this instance paid by max age is finished too, so the books close.
    for (const other of await database.any(sql.type(z.object({ batch_id: z.string() }))`SELECT batch_id FROM payout_batches WHERE reason = 'max_age' AND state = 'requested'`)) {
      await processed(await finishPayout(other.batch_id, `hash-${other.batch_id}`));
    }
  }, 120_000);
});
