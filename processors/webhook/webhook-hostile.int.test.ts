// Proves, through HTTP against the real webhook, stack and database, the fuzzing review's findings
// stay fixed: deep or huge JSON is refused before any recursive walk (F1), a signed IPN with a date
// (F2) or an amount (F3) that Avro or PostgreSQL cannot store is quarantined naming the field —
// never produced, never a 500, never an echo of internal text — and the process stays healthy.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { finishedIpn, jsonNumber, paymentIdOf, postIpn, postIpnText, testIpnSecret } from '../../test/support/ipn.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { startWebhook, type RunningWebhook } from './start-webhook.ts';

const endpoints = inject('endpoints');
let webhook: RunningWebhook;
let database: DatabasePool;

beforeAll(async () => {
  const config = loadConfig({ ...testStackEnvironment(process.env), NOWPAYMENTS_IPN_SECRET: testIpnSecret });
  webhook = await startWebhook({ config, endpoints, port: 0, log: createLogger({ name: 'webhook-hostile-test', level: 'silent' }) });
  database = await openTestDatabase();
});

afterAll(async () => {
  await webhook.stop();
  await database.end();
});

const anyHexSignature = 'ab'.repeat(64);

async function countOf(query: ReturnType<typeof sql.unsafe>): Promise<number> {
  return database.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM (${query}) AS rows`);
}

async function tracesOf(paymentId: string) {
  return {
    receipts: await countOf(sql.unsafe`SELECT 1 FROM ipn_receipts WHERE payment_id = ${paymentId}`),
    payments: await countOf(sql.unsafe`SELECT 1 FROM webhook_payments WHERE payment_id = ${paymentId}`),
    quarantined: await countOf(sql.unsafe`SELECT 1 FROM ipn_quarantine WHERE payment_id = ${paymentId}`),
  };
}

describe('F1: deep or huge JSON is refused before any recursive walk', () => {
  it.each([
    ['objects nested 3,000 deep', `${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`],
    ['objects nested 7,750 deep', `${'{"a":'.repeat(7_750)}1${'}'.repeat(7_750)}`],
    ['arrays nested 7,750 deep', `{"a":${'['.repeat(7_750)}${']'.repeat(7_750)}}`],
    ['arrays nested 20,000 deep', `${'['.repeat(20_000)}${']'.repeat(20_000)}`],
  ])('%s → 400 naming the body, whatever the signature', async (_name, text) => {
    const response = await postIpnText(webhook.url, text, { signature: anyHexSignature });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'json_too_deep', field: 'body' } });
  });

  it('an object with more keys than any IPN has → 413 naming the body', async () => {
    const keys = Array.from({ length: 3_000 }, (_, index) => `"k${index}":1`).join(',');
    const response = await postIpnText(webhook.url, `{${keys}}`, { signature: anyHexSignature });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'json_too_many_entries', field: 'body' } });
  });

  it('stays healthy after a burst of deep bodies', async () => {
    const deep = `${'{"a":'.repeat(7_000)}1${'}'.repeat(7_000)}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => postIpnText(webhook.url, deep, { signature: anyHexSignature })));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 400));
    expect((await fetch(`${webhook.url}/health`)).status).toBe(200);
    expect((await fetch(`${webhook.url}/ready`)).status).toBe(200);
  });
});

describe('F2: a signed IPN with a date PostgreSQL or the window cannot hold is quarantined, not produced', () => {
  it.each([
    ['year 0', '0000-01-01T00:00:00Z'],
    ['the earliest JS date', '-271821-04-20T00:00:00.000Z'],
    ['the latest JS date', '+275760-09-13T00:00:00.000Z'],
    ['15-digit epoch millis', jsonNumber('999999999999999')],
    ['"-1"', '-1'],
    ['30 February', '2026-02-30T00:00:00Z'],
    ['before 2009', '2008-12-31T23:59:59Z'],
    ['a date-only form', '2026-11-20'],
  ])('updated_at %s → 202 quarantined naming updated_at', async (_name, updatedAt) => {
    const ipn = finishedIpn({ updated_at: updatedAt });
    const response = await postIpn(webhook.url, ipn);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'quarantined', reason: { field: 'updated_at' } });
    expect(await tracesOf(paymentIdOf(ipn))).toEqual({ receipts: 0, payments: 0, quarantined: 1 });
  });
});

describe('F3: a signed IPN with an amount the Avro decimal cannot hold is quarantined without echoing internals', () => {
  it.each([
    ['outcome_amount', jsonNumber('123456789012345678901')],
    ['outcome_amount', jsonNumber('1234567890123456789012345.5')],
    ['actually_paid', jsonNumber('123456789012345678901')],
  ])('%s = %s → 202 quarantined naming the field', async (field, amount) => {
    const ipn = finishedIpn({ [field]: amount });
    const response = await postIpn(webhook.url, ipn);
    const text = await response.text();
    expect(response.status).toBe(202);
    expect(JSON.parse(text)).toMatchObject({ status: 'quarantined', reason: { field } });
    expect(text).not.toMatch(/decimal\(|precision|unscaled/);
    expect(await tracesOf(paymentIdOf(ipn))).toEqual({ receipts: 0, payments: 0, quarantined: 1 });
  });
});
