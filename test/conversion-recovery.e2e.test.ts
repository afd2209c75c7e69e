// Proves a conversion that fails after its pay-in left is never paid in again automatically, on the
// real stack with every processor its own process (accumulator, ChangeNow connector against the
// simulator, chain connector on the local EVM, settlement, admin): the simulator takes the real
// deposit, then fails the exchange (ChangeNow's `failed`); exactly one pay-in is on chain, the
// payments are needs_recovery (never batched again), the finding is raised (API and `alerts`),
// and each operator resolution works — refund received (admin API: back to pending, converted once
// more), USDT recovered (the CLI: credited as a finished conversion would be), written off (admin
// API: who and why) — with the books reconciling and the findings cleared. The client's balance
// names the held payments too.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Decimal, toBaseUnits } from '../core/money.ts';
import { decimalColumn } from '../db/column-types.ts';
import { findViolations, formatViolations } from '../db/reconciliation.ts';
import { findingIdOf } from '../db/liveness.ts';
import { ledgerPendingChannel } from '../db/ledger-notifications.ts';
import type { Alert, CreditIssued } from '../schemas/generated/records.ts';
import { topicNames } from '../topics/topics.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { uniquePaymentId } from './support/ipn.ts';
import { ethBalanceOf } from './support/local-evm.ts';
import { planOutcome, simulatorExchanges } from './support/changenow-simulator.ts';
import { processorEnvironment, startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { registerClient, type TestClient } from './support/settlement-fixtures.ts';
import { skipEarlierCommands } from './support/whole-pipeline.ts';
import { readTopic } from './support/topic-records.ts';

const endpoints = inject('endpoints');
const adminToken = 'test-admin-token-0123456789abcdef';
const wait = { timeoutMs: 90_000, intervalMs: 250 };

const environment = {
  MICRO_BATCH_THRESHOLD_USD: '20',
  // Every pending payment batches within 2 s whatever threshold earlier files left in force, so the
  // payments other files left pending are flushed before these tests plant their own.
  MICRO_BATCH_MAX_WAIT: '2s',
  WINDOW_PUNCTUATION_INTERVAL: '500ms',
  CHANGENOW_POLL_INTERVAL: '200ms',
  CHANGENOW_POLL_INTERVAL_MAX: '1s',
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_CONFIRMATIONS: '2',
  LIVENESS_CHECK_INTERVAL: '1s',
  // No test here is about the ChangeNow rate limit (rate-budget.int.test.ts is): the shared budget
  // at the production 10/s only queues the status polls.
  CHANGENOW_RATE_LIMIT_PER_SECOND: '100',
};

const processorPorts = {
  accumulator: 'ACCUMULATOR_PORT',
  changenow: 'CHANGENOW_CONNECTOR_PORT',
  chain: 'CHAIN_CONNECTOR_PORT',
  settlement: 'SETTLEMENT_PORT',
  admin: 'ADMIN_PORT',
} as const;
const processes: ProcessorProcess[] = [];
let adminUrl = '';
let database: DatabasePool;
let client: TestClient;

beforeAll(async () => {
  database = await openTestDatabase();
  client = await registerClient(database, { thresholdUsd: '500' });
  await skipEarlierCommands(endpoints);
  // All five at once: they are independent consumers and servers, and starting them one after
  // the other cost the sum of five process start-ups.
  const started = await Promise.all(
    Object.entries(processorPorts).map(async ([name, port]) => {
      const running = await startProcessorProcess(name, port, { environment, readyTimeoutMs: 120_000 });
      processes.push(running);
      return { name, running };
    }),
  );
  adminUrl = started.find((entry) => entry.name === 'admin')?.running.url ?? '';
  // The global window batches every pending payment: none may share a batch with this file's.
  await eventually(async () => {
    const pending = await database.oneFirst(sql.type(z.object({ count: z.number().int() }))`
      SELECT count(*)::int AS count FROM payment_ledger WHERE state = 'pending_conversion'`);
    expect(pending).toBe(0);
  }, { timeoutMs: 180_000, intervalMs: 500 });
}, 600_000);

afterAll(async () => {
  for (const running of processes.reverse()) expect(await running.terminate()).toBe(0);
  await database?.end();
});

async function admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'x-actor-note': 'e2e@example.com' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Pending payments as the router writes them (3% fee on both sides, ETH at 3,000 USD), then the accumulator's NOTIFY. */
async function payPending(usdGross: readonly string[]): Promise<string[]> {
  const paymentIds = usdGross.map(() => uniquePaymentId());
  await database.query(sql.unsafe`
    INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent,
                                usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net, paid_at, received_at, routed_at)
    SELECT p.payment_id, ${client.clientId}, '42', '7', 'pending_conversion', 3,
           p.usd_gross, round(p.usd_gross * 3 / 100, 8), p.usd_gross - round(p.usd_gross * 3 / 100, 8),
           round(p.usd_gross / 3000, 18), round(round(p.usd_gross / 3000, 18) * 3 / 100, 18),
           round(p.usd_gross / 3000, 18) - round(round(p.usd_gross / 3000, 18) * 3 / 100, 18), now(), now(), now()
    FROM unnest(${sql.array(paymentIds, 'text')}::text[], ${sql.array([...usdGross], 'numeric')}::numeric[]) AS p (payment_id, usd_gross)`);
  await database.query(sql.unsafe`SELECT pg_notify(${ledgerPendingChannel}, '1')`);
  return paymentIds;
}

const ledgerRow = z.object({ payment_id: z.string(), state: z.string(), conversion_batch_id: z.string().nullable() });

async function ledgerOf(paymentIds: readonly string[]) {
  return database.any(sql.type(ledgerRow)`
    SELECT payment_id, state, conversion_batch_id FROM payment_ledger WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}) ORDER BY payment_id`);
}

const membershipRow = z.object({ payment_id: z.string(), batch_id: z.string(), release_reason: z.string().nullable() });

async function membershipsOf(paymentIds: readonly string[]) {
  return database.any(sql.type(membershipRow)`
    SELECT payment_id, batch_id, release_reason FROM conversion_batch_members WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}) ORDER BY joined_at, payment_id`);
}

const batchRow = z.object({ state: z.string(), total_eth: decimalColumn, usdt_received: decimalColumn.nullable() });
const recoveryRow = z.object({ exchange_id: z.string().nullable(), exchange_status: z.string().nullable(), reported_reason: z.string(), resolution: z.string().nullable(), resolved_by: z.string().nullable(), note: z.string().nullable() });

async function batchOf(batchId: string) {
  return database.one(sql.type(batchRow)`SELECT state, total_eth, usdt_received FROM conversion_batches WHERE batch_id = ${batchId}`);
}

async function recoveryOf(batchId: string) {
  return database.one(sql.type(recoveryRow)`
    SELECT exchange_id, exchange_status, reported_reason, resolution, resolved_by, note FROM conversion_recoveries WHERE batch_id = ${batchId}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two payments ($15 each, $29.10 net: one batch) whose conversion the simulator fails after the
 * deposit; returns once settlement holds them for recovery, after checking the pay-in happened once.
 */
async function conversionFailedAfterPayIn(): Promise<{ batchId: string; paymentIds: string[] }> {
  // Aimed at this batch's exact amount (2 × 0.00485 ETH net): the connector may meanwhile be
  // creating the exchanges of batches earlier files left on the conversion topic, and a planned
  // outcome goes to the next exchange that matches.
  await planOutcome({ match: { toCurrency: 'usdt', fromAmount: '0.0097' }, outcome: 'failed', reason: 'simulated: deposit flagged by compliance' });
  const paymentIds = await payPending(['15', '15']);
  const held = await eventually(async () => {
    const rows = await ledgerOf(paymentIds);
    expect(rows.map((row) => row.state)).toEqual(['needs_recovery', 'needs_recovery']);
    return rows;
  }, wait);
  const batchId = held[0]?.conversion_batch_id ?? '';
  expect(held.every((row) => row.conversion_batch_id === batchId)).toBe(true);
  const members = await database.anyFirst(sql.type(z.object({ payment_id: z.string() }))`
    SELECT payment_id FROM payment_ledger WHERE conversion_batch_id = ${batchId} ORDER BY payment_id`);
  expect(members).toEqual([...paymentIds].sort());

  // The simulator really took the deposit before it failed the exchange: one exchange, one pay-in.
  const exchanges = await simulatorExchanges(batchId);
  expect(exchanges).toHaveLength(1);
  const [exchange] = exchanges;
  expect(exchange?.status).toBe('failed');
  expect(exchange?.statusHistory).toContain('confirming');
  const transfers = await database.oneFirst(sql.type(z.object({ count: z.number().int() }))`
    SELECT count(*)::int AS count FROM chain_transfers WHERE command_id = ${batchId}`);
  expect(transfers).toBe(1);
  const batch = await batchOf(batchId);
  expect(batch.state).toBe('needs_recovery');
  expect(await ethBalanceOf(exchange?.payinAddress ?? '')).toBe(toBaseUnits(batch.total_eth, 18));
  expect(await recoveryOf(batchId)).toMatchObject({ exchange_id: exchange?.id, exchange_status: 'failed', resolution: null });
  expect((await recoveryOf(batchId)).reported_reason).toContain('ChangeNow reported the exchange failed');

  // Never batched again: the accumulator (every 500 ms) leaves them alone.
  await sleep(3_000);
  expect((await membershipsOf(paymentIds)).map((member) => member.batch_id)).toEqual([batchId, batchId]);
  expect((await ledgerOf(paymentIds)).map((row) => row.state)).toEqual(['needs_recovery', 'needs_recovery']);
  return { batchId, paymentIds };
}

async function findingsOf(): Promise<{ finding_id: string }[]> {
  const answer = await admin('GET', '/api/reconciliation');
  expect(answer.status).toBe(200);
  return answer.body['findings'] as { finding_id: string }[];
}

async function alertsOf(findingId: string): Promise<Alert[]> {
  return (await readTopic(endpoints, topicNames.alerts)).filter((record) => record.key === findingId).map((record) => record.value as Alert);
}

async function runCli(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { env: processorEnvironment(), stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

const creditRow = z.object({ credit_id: z.string(), payment_id: z.string(), usdt_amount: decimalColumn, conversion_batch_id: z.string() });

async function creditsOf(paymentIds: readonly string[]) {
  return database.any(sql.type(creditRow)`
    SELECT credit_id, payment_id, usdt_amount, conversion_batch_id FROM usdt_credits WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}) ORDER BY payment_id`);
}

describe('a conversion that failed after its pay-in', () => {
  it('is held for recovery with a finding and an alert; a refund received sends its payments back to be converted once more', async () => {
    const { batchId, paymentIds } = await conversionFailedAfterPayIn();
    const findingId = findingIdOf('conversion_needs_recovery', batchId);
    expect((await findingsOf()).map((finding) => finding.finding_id)).toContain(findingId);
    const waiting = (await admin('GET', '/api/reconciliation')).body['waiting'] as { state: string; subject: string }[];
    expect(waiting).toContainEqual(expect.objectContaining({ state: 'needs_recovery', subject: batchId }));
    const balance = await admin('GET', `/api/clients/${client.clientId}/balance`);
    expect(balance.body['groups']).toContainEqual(expect.objectContaining({ state: 'needs_recovery', amount: '29.1', currency: 'usd' }));
    await eventually(async () => expect(await alertsOf(findingId)).toEqual([expect.objectContaining({ status: 'RAISED', severity: 'CRITICAL', subject: batchId })]), wait);

    const resolved = await admin('POST', `/api/conversion-batches/${batchId}/recovery`, { resolution: 'refund_received', note: 'refund tx seen on the host wallet' });
    expect(resolved).toEqual({ status: 200, body: { batch_id: batchId, resolution: 'refund_received', resolved_by: 'admin', payments: 2, credits: 0 } });
    expect((await admin('POST', `/api/conversion-batches/${batchId}/recovery`, { resolution: 'refund_received' })).status).toBe(409);

    // Converted again, once, in a new batch that finishes (the simulator's outcome was used up).
    const converted = await eventually(async () => {
      const rows = await ledgerOf(paymentIds);
      expect(rows.map((row) => row.state)).toEqual(['converted', 'converted']);
      return rows;
    }, wait);
    const secondBatchId = converted[0]?.conversion_batch_id ?? '';
    expect(secondBatchId).not.toBe(batchId);
    expect(await batchOf(batchId)).toMatchObject({ state: 'failed' });
    expect((await membershipsOf(paymentIds)).map((member) => [member.batch_id, member.release_reason?.startsWith('refund received') ?? null])).toEqual([
      [batchId, true],
      [batchId, true],
      [secondBatchId, null],
      [secondBatchId, null],
    ]);
    expect(await simulatorExchanges(secondBatchId)).toEqual([expect.objectContaining({ status: 'finished' })]);
    expect((await creditsOf(paymentIds)).map((credit) => credit.conversion_batch_id)).toEqual([secondBatchId, secondBatchId]);
    await eventually(async () => expect((await alertsOf(findingId)).map((alert) => alert.status)).toEqual(['RAISED', 'CLEARED']), wait);
  }, 300_000);

  it('recovered: the CLI credits the USDT recovered exactly as a finished conversion distributes it', async () => {
    const { batchId, paymentIds } = await conversionFailedAfterPayIn();
    const refused = await runCli(['recovery', 'resolve', batchId, 'recovered']);
    expect(refused.code).not.toBe(0);
    const done = await runCli(['recovery', 'resolve', batchId, 'recovered', '--usdt-amount', '25.500001', '--actor', 'ops@example.com', '--note', 'support ticket 4711']);
    expect(done.code).toBe(0);
    const answer = done.output.split('\n').find((line) => line.startsWith('{"kind"')) ?? '';
    expect(JSON.parse(answer)).toEqual({ kind: 'resolved', resolution: 'recovered', payments: 2, credits: 2 });
    expect((await ledgerOf(paymentIds)).map((row) => row.state)).toEqual(['converted', 'converted']);
    const batch = await batchOf(batchId);
    expect(batch.state).toBe('finished');
    expect(batch.usdt_received?.toFixed()).toBe('25.500001');
    const credits = await creditsOf(paymentIds);
    // Equal USD values: the odd base unit goes to one of them (largest remainder), none is lost.
    expect(credits.map((credit) => credit.usdt_amount.toFixed()).sort()).toEqual(['12.75', '12.750001']);
    expect(credits.reduce((sum, credit) => sum.plus(credit.usdt_amount), new Decimal(0)).toFixed()).toBe('25.500001');
    expect(await recoveryOf(batchId)).toMatchObject({ resolution: 'recovered', resolved_by: 'ops@example.com', note: 'support ticket 4711' });
    const issued = (await readTopic(endpoints, topicNames.usdtCredits)).map((record) => record.value as CreditIssued).filter((value) => value.conversion_batch_id === batchId);
    expect(issued.map((value) => value.credit_id).sort()).toEqual(credits.map((credit) => credit.credit_id).sort());
    const again = await runCli(['recovery', 'resolve', batchId, 'written_off', '--note', 'too late']);
    expect(again.code).toBe(2);
  }, 300_000);

  it('written off: recorded with who and why; the payments stay written off, never converted', async () => {
    const { batchId, paymentIds } = await conversionFailedAfterPayIn();
    const noReason = await admin('POST', `/api/conversion-batches/${batchId}/recovery`, { resolution: 'written_off' });
    expect(noReason.status).toBe(422);
    const written = await admin('POST', `/api/conversion-batches/${batchId}/recovery`, { resolution: 'written_off', note: 'exchange insolvent; claim filed' });
    expect(written).toMatchObject({ status: 200, body: { resolution: 'written_off', payments: 2 } });
    expect(await recoveryOf(batchId)).toMatchObject({ resolution: 'written_off', resolved_by: 'admin', note: 'exchange insolvent; claim filed' });
    expect(await batchOf(batchId)).toMatchObject({ state: 'written_off' });
    await sleep(2_000);
    expect((await ledgerOf(paymentIds)).map((row) => row.state)).toEqual(['written_off', 'written_off']);
    const listed = await admin('GET', '/api/conversion-recoveries');
    expect(listed.body['recoveries']).toContainEqual(expect.objectContaining({ batch_id: batchId, resolution: 'written_off', state: 'written_off' }));
  }, 300_000);

  it('leaves books that reconcile and no conversion needing recovery', async () => {
    const violations = await database.connect((connection) => findViolations(connection));
    expect(violations, formatViolations(violations)).toEqual([]);
    await eventually(async () => expect((await findingsOf()).filter((finding) => finding.finding_id.startsWith('conversion_needs_recovery:'))).toEqual([]), wait);
  }, 120_000);
});
