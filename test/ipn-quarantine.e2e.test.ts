// Proves a signed IPN that fails validation is kept, raised and resolved without losing or doubling
// money, on the real stack with the real webhook, admin API, router and CLI: the IPN is quarantined
// with an alert, counted once however often it arrives, an operator's fix that still breaks a rule
// is refused, the fixed IPN reaches the ledger exactly once (also when NOWPayments then sends it
// again), a resolved row cannot be resolved twice, and a dismissed one moves no money.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pino } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import type { PaymentReceived } from '../schemas/generated/records.ts';
import { topicNames } from '../topics/topics.ts';
import { startWebhook, type RunningWebhook } from '../processors/webhook/start-webhook.ts';
import { startAdmin, type RunningAdmin } from '../processors/admin/start-admin.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { finishedIpn, jsonNumber, paymentIdOf, postIpn, testIpnSecret } from './support/ipn.ts';
import { processorEnvironment, startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { testStackEnvironment } from './support/test-stack-environment.ts';
import { readTopic } from './support/topic-records.ts';

const endpoints = inject('endpoints');
const adminToken = 'test-admin-token-0123456789abcdef';
const run = promisify(execFile);

let webhook: RunningWebhook;
let admin: RunningAdmin;
let router: ProcessorProcess;
let database: DatabasePool;
const webhookLogLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const config = loadConfig({ ...testStackEnvironment(process.env), NOWPAYMENTS_IPN_SECRET: testIpnSecret, ADMIN_TOKEN: adminToken });
  const webhookLog = pino({ level: 'info' }, { write: (line: string) => void webhookLogLines.push(JSON.parse(line) as Record<string, unknown>) });
  webhook = await startWebhook({ config, endpoints, port: 0, log: webhookLog });
  admin = await startAdmin({ config, endpoints, port: 0, log: createLogger({ name: 'admin-test', level: 'silent' }), cooldownSweepIntervalMs: 0 });
  router = await startProcessorProcess('router', 'ROUTER_PORT', { readyTimeoutMs: 120_000 });
  database = await openTestDatabase();
});

afterAll(async () => {
  await router?.terminate();
  await admin?.stop();
  await webhook?.stop();
  await database?.end();
});

async function callAdmin(method: 'GET' | 'POST', path: string, body?: unknown, note = 'ops@example.com') {
  const response = await fetch(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'x-actor-note': note },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function countOf(query: ReturnType<typeof sql.unsafe>): Promise<number> {
  return database.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM (${query}) AS rows`);
}

async function moneyTracesOf(paymentId: string) {
  return {
    webhookPayments: await countOf(sql.unsafe`SELECT 1 FROM webhook_payments WHERE payment_id = ${paymentId}`),
    ledger: await countOf(sql.unsafe`SELECT 1 FROM payment_ledger WHERE payment_id = ${paymentId}`),
    records: (await readTopic(endpoints, topicNames.paymentsReceived)).filter((record) => (record.value as PaymentReceived).payment_id === paymentId).length,
  };
}

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { env: processorEnvironment(), timeout: 120_000 });
  return stdout;
}

describe('a signed IPN with an impossible date', () => {
  const ipn = finishedIpn({ updated_at: '2026-02-30T14:23:06.244Z' });
  const paymentId = paymentIdOf(ipn);
  let quarantineId = '';

  it('is quarantined with an alert, once however often it arrives, and moves no money', async () => {
    const first = await postIpn(webhook.url, ipn);
    expect(first.status).toBe(202);
    const answer = (await first.json()) as { status: string; quarantineId: string; reason: { field: string } };
    expect(answer).toMatchObject({ status: 'quarantined', paymentId, timesReceived: 1, reason: { field: 'updated_at' } });
    quarantineId = answer.quarantineId;
    const again = await postIpn(webhook.url, ipn);
    expect(await again.json()).toMatchObject({ status: 'quarantined', quarantineId, timesReceived: 2 });

    const alerts = webhookLogLines.filter((line) => line['alert'] === true && line['quarantineId'] === quarantineId);
    expect(alerts).toHaveLength(1);
    const metrics = await (await fetch(`${webhook.url}/metrics`)).text();
    expect(metrics).toMatch(/webhook_quarantined_ipns_total\{field="updated_at",service="webhook"\} [1-9]/);
    expect(metrics).toMatch(/webhook_quarantine_held_ipns\{service="webhook"\} [1-9]/);
    expect(await moneyTracesOf(paymentId)).toEqual({ webhookPayments: 0, ledger: 0, records: 0 });
  });

  it('is listed and shown to the operator with its body exactly as received', async () => {
    const listed = await callAdmin('GET', '/api/quarantine?state=held');
    expect(listed.status).toBe(200);
    expect(listed.body['quarantined']).toEqual(expect.arrayContaining([expect.objectContaining({ quarantine_id: quarantineId, times_received: 2 })]));
    const shown = await callAdmin('GET', `/api/quarantine/${quarantineId}`);
    expect(shown.body['quarantined']).toMatchObject({
      state: 'held',
      payment_id: paymentId,
      reason: { field: 'updated_at' },
      body: expect.stringContaining('"updated_at":"2026-02-30T14:23:06.244Z"') as unknown,
    });
    expect(await cli('quarantine', 'show', quarantineId)).toContain(`"quarantine_id":"${quarantineId}"`);
  }, 120_000);

  it('refuses a fix that still breaks a rule (422 naming the field) and stays held', async () => {
    const refused = await callAdmin('POST', `/api/quarantine/${quarantineId}/reinject`, { overrides: { updated_at: '-1' } });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ error: { field: 'updated_at' } });
    expect((await callAdmin('GET', `/api/quarantine/${quarantineId}`)).body['quarantined']).toMatchObject({ state: 'held' });
    expect(await moneyTracesOf(paymentId)).toEqual({ webhookPayments: 0, ledger: 0, records: 0 });
  });

  it('reaches the ledger exactly once when the operator reinjects the fix, even when NOWPayments sends it again', async () => {
    const fixed = await callAdmin('POST', `/api/quarantine/${quarantineId}/reinject`, {
      overrides: { updated_at: '2026-11-20T14:23:06.244Z' },
      note: 'NOWPayments confirmed the payment on 2026-11-20',
    });
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ outcome: 'produced', payment_id: paymentId, quarantined: { state: 'reinjected', resolved_by: 'admin', reinject_outcome: 'produced' } });

    const twice = await callAdmin('POST', `/api/quarantine/${quarantineId}/reinject`, { overrides: { updated_at: '2026-11-20T14:23:06.244Z' } });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ error: { code: 'quarantine_resolved' } });
    const corrected = await postIpn(webhook.url, { ...ipn, updated_at: '2026-11-20T14:23:06.244Z' });
    expect(await corrected.json()).toMatchObject({ status: 'duplicate', paymentId });

    await eventually(async () => expect(await moneyTracesOf(paymentId)).toEqual({ webhookPayments: 1, ledger: 1, records: 1 }), { timeoutMs: 30_000 });
  });
});

describe('a quarantined IPN the operator dismisses', () => {
  it('is closed with who and why, cannot be reinjected afterwards, and moves no money', async () => {
    const ipn = finishedIpn({ outcome_amount: jsonNumber('123456789012345678901') });
    const answer = (await (await postIpn(webhook.url, ipn)).json()) as { quarantineId: string };
    const output = await cli('quarantine', 'dismiss', answer.quarantineId, '--reason', 'test payment, refunded by NOWPayments', '--actor', 'cli-ops@example.com');
    expect(JSON.parse(output)).toMatchObject({ state: 'dismissed', resolved_by: 'cli-ops@example.com', resolution_note: 'test payment, refunded by NOWPayments' });
    expect(await cli('quarantine', 'list', '--state', 'dismissed')).toContain(`"quarantine_id":"${answer.quarantineId}"`);

    const reinjected = await callAdmin('POST', `/api/quarantine/${answer.quarantineId}/reinject`, { overrides: { outcome_amount: '0.02' } });
    expect(reinjected.status).toBe(409);
    const dismissedAgain = await callAdmin('POST', `/api/quarantine/${answer.quarantineId}/dismiss`, { reason: 'again' });
    expect(dismissedAgain.status).toBe(409);
    expect(await moneyTracesOf(paymentIdOf(ipn))).toEqual({ webhookPayments: 0, ledger: 0, records: 0 });
    // Each CLI call is a process that connects to PostgreSQL and Kafka: slow on a loaded machine.
  }, 240_000);

  it('answers 404 for an unknown id and 422 for a malformed one or a dismissal without a reason', async () => {
    expect((await callAdmin('GET', '/api/quarantine/999999999')).status).toBe(404);
    expect((await callAdmin('GET', '/api/quarantine/abc')).body).toMatchObject({ error: { field: 'id' } });
    const held = (await (await postIpn(webhook.url, finishedIpn({ price_currency: 'eur' }))).json()) as { quarantineId: string };
    const noReason = await callAdmin('POST', `/api/quarantine/${held.quarantineId}/dismiss`, {});
    expect(noReason).toMatchObject({ status: 422, body: { error: { field: 'reason' } } });
    const both = await callAdmin('POST', `/api/quarantine/${held.quarantineId}/reinject`, { body: {}, overrides: { a: 1 } });
    expect(both).toMatchObject({ status: 422, body: { error: { field: 'body' } } });
  });
});
