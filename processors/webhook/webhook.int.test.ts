// Proves the webhook's contract through HTTP against the real stack: a signed finished IPN becomes
// exactly one Avro record on payments-received (decoded through the registry), repeats produce
// nothing, every bad request gets a specific 4xx and leaves no trace in Kafka or PostgreSQL, and a
// signed IPN that breaks a rule is quarantined (202) — one row, nothing produced.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal, isDecimal } from '../../core/money.ts';
import { correlationIdHeader, headerText } from '../../core/kafka/kafka-client.ts';
import { topicNames } from '../../topics/topics.ts';
import type { PaymentReceived } from '../../schemas/generated/records.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { clientIdOf, finishedIpn, ipnText, jsonNumber, paymentIdOf, postIpn, postIpnText, testIpnSecret } from '../../test/support/ipn.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { eventually } from '../../test/support/eventually.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { startWebhook, type RunningWebhook } from './start-webhook.ts';

const endpoints = inject('endpoints');
let webhook: RunningWebhook;
let database: DatabasePool;

beforeAll(async () => {
  const config = loadConfig({ ...testStackEnvironment(process.env), NOWPAYMENTS_IPN_SECRET: testIpnSecret, WEBHOOK_BODY_LIMIT_BYTES: '8192' });
  webhook = await startWebhook({ config, endpoints, port: 0, log: createLogger({ name: 'webhook-test', level: 'silent' }) });
  database = await openTestDatabase();
});

afterAll(async () => {
  await webhook.stop();
  await database.end();
});

/**
 * The payment's records on the topic once the relay has published what the webhook wrote to the
 * outbox for it: waiting on the outbox row, not on the topic, so "exactly one" is checked after
 * the publication and not before it.
 */
async function recordsFor(paymentId: string) {
  await eventually(async () =>
    expect(
      await database.exists(sql.unsafe`SELECT 1 FROM outbox WHERE headers->>'payment-id' = ${paymentId} AND published_at IS NULL`),
    ).toBe(false),
  );
  const records = await readTopic(endpoints, topicNames.paymentsReceived);
  return records.filter((record) => (record.value as PaymentReceived).payment_id === paymentId);
}

async function tracesOf(paymentId: string) {
  const receipts = await database.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM ipn_receipts WHERE payment_id = ${paymentId}`);
  const payments = await database.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM webhook_payments WHERE payment_id = ${paymentId}`);
  return { receipts, payments };
}

describe('a signed finished IPN', () => {
  it('lands as one Avro record in the Confluent wire format, keyed by client, with exact amounts', async () => {
    const ipn = finishedIpn({ price_amount: jsonNumber('49.99'), outcome_amount: jsonNumber('0.021087000000000001') });
    const response = await postIpn(webhook.url, ipn, { correlationId: 'test-correlation-1' });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'accepted', paymentId: paymentIdOf(ipn), routable: false });

    const [record, ...others] = await recordsFor(paymentIdOf(ipn));
    expect(others).toHaveLength(0);
    expect(record?.key).toBe(clientIdOf(ipn));
    expect(record?.raw?.[0]).toBe(0); // Confluent magic byte, then a 4-byte schema id
    expect(headerText(record?.headers, correlationIdHeader)).toBe('test-correlation-1');
    const value = record?.value as PaymentReceived;
    expect(isDecimal(value.usd_amount) && value.usd_amount.equals(new Decimal('49.99'))).toBe(true);
    expect(value.eth_amount.toString()).toBe('0.021087000000000001');
    expect(value.client_id).toBe(clientIdOf(ipn));
    expect(value.paid_at.toISOString()).toBe('2026-11-20T14:23:06.244Z');
  });

  it('accepts the same body with its keys in another order (the signature covers the sorted keys)', async () => {
    const ipn = finishedIpn();
    const reversed = Object.fromEntries(Object.entries(ipn).reverse());
    const response = await postIpn(webhook.url, reversed);
    expect(response.status).toBe(202);
  });

  it('produces nothing new when the same IPN arrives again', async () => {
    const ipn = finishedIpn();
    expect((await postIpn(webhook.url, ipn)).status).toBe(202);
    const again = await postIpn(webhook.url, ipn);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'duplicate' });
    expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(1);
    const times = await database.oneFirst(sql.type(z.object({ times_received: z.number() }))`
      SELECT times_received FROM ipn_receipts WHERE payment_id = ${paymentIdOf(ipn)} AND payment_status = 'finished'`);
    expect(times).toBe(2);
  });

  it('accepts a payment once when NOWPayments delivers it many times at once (one transaction may carry several copies)', async () => {
    const ipn = finishedIpn();
    const others = Array.from({ length: 20 }, () => finishedIpn());
    const answers = await Promise.all([...Array.from({ length: 12 }, () => ipn), ...others].map(async (fields) => {
      const response = await postIpn(webhook.url, fields);
      return { paymentId: paymentIdOf(fields), status: response.status, body: (await response.json()) as { status: string } };
    }));
    const mine = answers.filter((answer) => answer.paymentId === paymentIdOf(ipn));
    expect(mine.filter((answer) => answer.status === 202 && answer.body.status === 'accepted')).toHaveLength(1);
    expect(mine.filter((answer) => answer.status === 200 && answer.body.status === 'duplicate')).toHaveLength(11);
    expect(answers.filter((answer) => answer.paymentId !== paymentIdOf(ipn)).every((answer) => answer.status === 202)).toBe(true);
    expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(1);
    for (const other of others) expect(await tracesOf(paymentIdOf(other))).toEqual({ receipts: 1, payments: 1 });
    const times = await database.oneFirst(sql.type(z.object({ times_received: z.number() }))`
      SELECT times_received FROM ipn_receipts WHERE payment_id = ${paymentIdOf(ipn)} AND payment_status = 'finished'`);
    expect(times).toBe(12);
  });

  it('answers duplicate to a copy whose original commits while the copy waits on its payment id (decided again, never guessed)', async () => {
    // The batch is one statement with one snapshot: a row another transaction commits while this
    // statement's INSERT waits on it is invisible to the same statement's comparison, so the
    // request must be decided by a later statement rather than called a conflict.
    const ipn = finishedIpn();
    const paymentId = paymentIdOf(ipn);
    await database.connect(async (holder) => {
      await holder.query(sql.unsafe`BEGIN`);
      await holder.query(sql.unsafe`
        INSERT INTO webhook_payments (payment_id, client_id, order_id, usd_amount, eth_amount, correlation_id, accepted_at)
        VALUES (${paymentId}, ${clientIdOf(ipn)}, ${String(ipn.order_id)}, 50, 0.021087, 'test-holder', now())`);
      const answer = postIpn(webhook.url, ipn);
      await eventually(async () =>
        expect(
          await database.exists(sql.unsafe`
            SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO webhook_payments%' AND pid <> pg_backend_pid()`),
        ).toBe(true),
      );
      await holder.query(sql.unsafe`COMMIT`);
      const response = await answer;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { status: string }).status).toBe('duplicate');
    });
    expect(await tracesOf(paymentId)).toEqual({ receipts: 1, payments: 1 });
    expect(await database.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM outbox WHERE headers->>'payment-id' = ${paymentId}`)).toBe(0);
  });

  it('quarantines a conflicting copy that arrives together with the original, and accepts the original once', async () => {
    const ipn = finishedIpn();
    const answers = await Promise.all([ipn, { ...ipn, outcome_amount: jsonNumber('9.5') }, ipn].map(async (fields) => (await (await postIpn(webhook.url, fields)).json()) as { status: string }));
    const statuses = answers.map((answer) => answer.status).sort();
    // The first to commit wins; the copy with other amounts is held whichever order they arrive in,
    // unless it committed first — then the two true copies are the conflicting ones.
    expect(statuses.filter((status) => status === 'accepted')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'quarantined').length).toBeGreaterThanOrEqual(1);
    expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(1);
    expect((await tracesOf(paymentIdOf(ipn))).payments).toBe(1);
  });

  it('keeps the first of a repeated payment id with different amounts, and quarantines the signed second for an operator', async () => {
    const ipn = finishedIpn();
    expect((await postIpn(webhook.url, ipn)).status).toBe(202);
    const changed = await postIpn(webhook.url, { ...ipn, price_amount: jsonNumber('5000') });
    expect(changed.status).toBe(202);
    expect(await changed.json()).toMatchObject({ status: 'quarantined', reason: { field: 'payment_id', rule: 'same payment, same amounts' } });
    expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(1);
    const held = await database.exists(sql.unsafe`
      SELECT 1 FROM ipn_quarantine WHERE payment_id = ${paymentIdOf(ipn)} AND state = 'held' AND reason_field = 'payment_id'`);
    expect(held).toBe(true);
  });

  it('keeps a payment for an unknown client visible as unroutable; a known client is routable', async () => {
    const unknown = finishedIpn();
    expect((await postIpn(webhook.url, unknown)).status).toBe(202);
    const unroutable = await database.exists(sql.unsafe`SELECT 1 FROM unroutable_payments WHERE payment_id = ${paymentIdOf(unknown)}`);
    expect(unroutable).toBe(true);

    const known = finishedIpn();
    await database.query(sql.unsafe`
      INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
      VALUES (${clientIdOf(known)}, 1, 'instant', NULL, '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b', 'eth', 'eth')`);
    const response = await postIpn(webhook.url, known);
    expect(await response.json()).toMatchObject({ status: 'accepted', routable: true });
    expect(await database.exists(sql.unsafe`SELECT 1 FROM unroutable_payments WHERE payment_id = ${paymentIdOf(known)}`)).toBe(false);
  });
});

describe('IPNs that are not finished', () => {
  it.each(['waiting', 'confirming', 'confirmed', 'sending', 'partially_paid', 'failed', 'refunded', 'expired'])(
    'records a %s IPN and moves no money',
    async (status) => {
      const ipn = finishedIpn({ payment_status: status, outcome_amount: undefined, actually_paid: jsonNumber('0') });
      const response = await postIpn(webhook.url, ipn);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'recorded', paymentStatus: status });
      expect(await tracesOf(paymentIdOf(ipn))).toEqual({ receipts: 1, payments: 0 });
      expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(0);
    },
  );
});

describe('rejections leave no trace', () => {
  const cases: { name: string; send: (ipn: ReturnType<typeof finishedIpn>) => Promise<Response>; status: number; code: string; field: string }[] = [
    { name: 'missing signature', send: (ipn) => postIpn(webhook.url, ipn, { signature: null }), status: 401, code: 'missing_signature', field: 'x-nowpayments-sig' },
    { name: 'wrong secret', send: (ipn) => postIpn(webhook.url, ipn, { secret: 'another-secret-0123456789' }), status: 401, code: 'invalid_signature', field: 'x-nowpayments-sig' },
    {
      name: 'tampered body',
      send: (ipn) => postIpnText(webhook.url, ipnText({ ...ipn, price_amount: jsonNumber('5000') }), { signedText: ipnText(ipn) }),
      status: 401,
      code: 'invalid_signature',
      field: 'x-nowpayments-sig',
    },
    { name: 'signature not hex', send: (ipn) => postIpn(webhook.url, ipn, { signature: 'not-a-signature' }), status: 401, code: 'invalid_signature', field: 'x-nowpayments-sig' },
    { name: 'wrong content type', send: (ipn) => postIpn(webhook.url, ipn, { contentType: 'text/plain' }), status: 415, code: 'unsupported_media_type', field: 'content-type' },
    {
      name: 'malformed JSON',
      send: (ipn) => postIpnText(webhook.url, ipnText(ipn).slice(0, -5), { signature: 'a'.repeat(128) }),
      status: 400,
      code: 'malformed_json',
      field: 'body',
    },
    {
      name: 'body over the size limit',
      send: (ipn) => postIpn(webhook.url, { ...ipn, order_description: 'x'.repeat(10_000) }),
      status: 413,
      code: 'body_too_large',
      field: 'body',
    },
  ];

  it.each(cases)('$name → $status $code naming $field', async ({ send, status, code, field }) => {
    const ipn = finishedIpn();
    const response = await send(ipn);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await response.json()) as { error: { code: string; field: string; rule: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.field).toBe(field);
    expect(body.error.rule.length).toBeGreaterThan(0);
    expect(await tracesOf(paymentIdOf(ipn))).toEqual({ receipts: 0, payments: 0 });
    expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(0);
    expect(await database.exists(sql.unsafe`SELECT 1 FROM ipn_quarantine WHERE payment_id = ${paymentIdOf(ipn)}`)).toBe(false);
  });
});

describe('a signed IPN that breaks a rule is quarantined, not produced', () => {
  const cases: { name: string; send: (ipn: ReturnType<typeof finishedIpn>) => Promise<Response>; field: string }[] = [
    { name: 'negative amount', send: (ipn) => postIpn(webhook.url, { ...ipn, price_amount: jsonNumber('-50') }), field: 'price_amount' },
    { name: 'zero amount', send: (ipn) => postIpn(webhook.url, { ...ipn, price_amount: jsonNumber('0') }), field: 'price_amount' },
    { name: 'absurd amount', send: (ipn) => postIpn(webhook.url, { ...ipn, price_amount: jsonNumber('100000000') }), field: 'price_amount' },
    { name: 'amount in exponent notation', send: (ipn) => postIpn(webhook.url, { ...ipn, price_amount: jsonNumber('5e1') }), field: 'price_amount' },
    { name: 'too many decimals', send: (ipn) => postIpn(webhook.url, { ...ipn, outcome_amount: jsonNumber('0.0000000000000000001') }), field: 'outcome_amount' },
    { name: 'price currency not usd', send: (ipn) => postIpn(webhook.url, { ...ipn, price_currency: 'eur' }), field: 'price_currency' },
    { name: 'unknown status', send: (ipn) => postIpn(webhook.url, { ...ipn, payment_status: 'done' }), field: 'payment_status' },
    { name: 'bad order_id', send: (ipn) => postIpn(webhook.url, { ...ipn, order_id: 'PGP-123|456' }), field: 'order_id' },
    { name: 'bad payment_id', send: (ipn) => postIpn(webhook.url, { ...ipn, payment_id: 'abc' }), field: 'payment_id' },
    { name: 'missing updated_at', send: (ipn) => postIpn(webhook.url, { ...ipn, updated_at: undefined }), field: 'updated_at' },
    { name: 'finished without outcome', send: (ipn) => postIpn(webhook.url, { ...ipn, outcome_amount: undefined }), field: 'outcome_amount' },
    { name: 'finished in another outcome currency', send: (ipn) => postIpn(webhook.url, { ...ipn, outcome_currency: 'btc' }), field: 'outcome_currency' },
    { name: 'a JSON array', send: (ipn) => postIpnText(webhook.url, `[1,"${paymentIdOf(ipn)}"]`), field: 'body' },
  ];

  it.each(cases)('$name → 202 quarantined naming $field', async ({ send, field }) => {
    const ipn = finishedIpn();
    const response = await send(ipn);
    expect(response.status).toBe(202);
    const body = (await response.json()) as { status: string; quarantineId: string; reason: { field: string; rule: string } };
    expect(body).toMatchObject({ status: 'quarantined', state: 'held', timesReceived: 1, reason: { field } });
    expect(body.reason.rule.length).toBeGreaterThan(0);
    expect(await tracesOf(paymentIdOf(ipn))).toEqual({ receipts: 0, payments: 0 });
    expect(await recordsFor(paymentIdOf(ipn))).toHaveLength(0);
    const held = await database.oneFirst(sql.type(z.object({ state: z.string() }))`
      SELECT state FROM ipn_quarantine WHERE quarantine_id = ${body.quarantineId}::bigint`);
    expect(held).toBe('held');
  });
});

describe('operations endpoints', () => {
  it('reports health, readiness on the database alone (Kafka is the relay\'s concern), and Prometheus metrics', async () => {
    expect((await fetch(`${webhook.url}/health`)).status).toBe(200);
    const ready = await fetch(`${webhook.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { database: 'ok' } });
    const metrics = await (await fetch(`${webhook.url}/metrics`)).text();
    expect(metrics).toMatch(/webhook_ipn_total\{outcome="produced",service="webhook"\} \d+/);
  });
});
