// Proves the webhook survives hostile input against the real process, stack and database: fast-check
// sends seeded random bodies and headers (deep nesting, huge keys and numbers, bad dates, wrong
// types, unicode, bad signatures and content types) and every answer is a JSON 4xx or 2xx — never a
// 5xx — a rejection writes nothing, a signed invalid IPN writes only its quarantine row, and the
// process stays healthy and ready. Replay a failure with FUZZ_SEED=<the printed seed>.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'lossless-json';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { finishedIpn, ipnText, jsonNumber, testIpnSecret, type IpnFields } from '../../test/support/ipn.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { signIpn } from './ipn-signature.ts';
import { startWebhook, type RunningWebhook } from './start-webhook.ts';

const endpoints = inject('endpoints');
const seed = process.env['FUZZ_SEED'] === undefined ? Date.now() % 2_147_483_647 : Number(process.env['FUZZ_SEED']);
const numRuns = 200;
let webhook: RunningWebhook;
let database: DatabasePool;

beforeAll(async () => {
  const config = loadConfig({ ...testStackEnvironment(process.env), NOWPAYMENTS_IPN_SECRET: testIpnSecret });
  webhook = await startWebhook({ config, endpoints, port: 0, log: createLogger({ name: 'webhook-fuzz-test', level: 'silent' }) });
  database = await openTestDatabase();
});

afterAll(async () => {
  await webhook.stop();
  await database.end();
});

const counts = z.object({ receipts: z.number(), payments: z.number(), quarantined: z.number(), quarantineReceipts: z.number() });

async function writes() {
  return database.one(sql.type(counts)`
    SELECT (SELECT count(*)::int FROM ipn_receipts) AS receipts,
           (SELECT count(*)::int FROM webhook_payments) AS payments,
           (SELECT count(*)::int FROM ipn_quarantine) AS quarantined,
           (SELECT coalesce(sum(times_received), 0)::int FROM ipn_quarantine) AS "quarantineReceipts"`);
}

// ---- bodies -------------------------------------------------------------------------------------

/** A body built from the request's own fresh IPN (unique payment id), or a text that is no IPN. */
type BodyPlan = { kind: 'ipn'; mutate: (ipn: IpnFields) => IpnFields } | { kind: 'text'; text: string };

const fields = ['payment_id', 'payment_status', 'pay_address', 'price_amount', 'price_currency', 'pay_amount', 'actually_paid', 'pay_currency', 'order_id', 'order_description', 'purchase_id', 'outcome_amount', 'outcome_currency', 'created_at', 'updated_at'];
const field = fc.constantFrom(...fields);

const hugeNumber = fc.oneof(
  fc.integer({ min: 15, max: 3_000 }).map((digits) => '9'.repeat(digits)),
  fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 60 })).map(([whole, fraction]) => `${'1'.repeat(whole)}.${'7'.repeat(fraction)}`),
  // Every one a valid JSON number: a text that is not one (e.g. leading zeros) is malformed JSON, sent
  // as raw text by `structure` below.
  fc.constantFrom('1e999999', '-0', '0.0', '1E-7', '-1', '123456789012345678901', '0.0000000000000000001'),
);
const badDate = fc.oneof(
  fc.constantFrom('0000-01-01T00:00:00Z', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '-1', '2026-02-30T00:00:00Z', '2026-11-20', '2026-13-01T00:00:00Z', 'yesterday', '', '2026-11-20T25:00:00Z'),
  fc.bigInt({ min: 0n, max: 10n ** 16n }).map((value) => jsonNumber(value.toString())),
  fc.string({ maxLength: 40 }),
);
const unicodeText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('\u0000', 'a\ud800b', '\udfff', '\u202e\u0000', '💸'.repeat(200), 'x'.repeat(5_000)),
);
const anyJson = fc.jsonValue({ maxDepth: 3 }).map((value) => (typeof value === 'number' ? jsonNumber(String(value)) : value));

const mutation: fc.Arbitrary<BodyPlan> = fc.oneof(
  fc.constant<BodyPlan>({ kind: 'ipn', mutate: (ipn) => ipn }),
  fc.tuple(field, hugeNumber).map(([name, digits]): BodyPlan => ({ kind: 'ipn', mutate: (ipn) => ({ ...ipn, [name]: jsonNumber(digits) }) })),
  fc.tuple(fc.constantFrom('created_at', 'updated_at'), badDate).map(([name, date]): BodyPlan => ({ kind: 'ipn', mutate: (ipn) => ({ ...ipn, [name]: date }) })),
  fc.tuple(field, anyJson).map(([name, value]): BodyPlan => ({ kind: 'ipn', mutate: (ipn) => ({ ...ipn, [name]: value }) })),
  fc.tuple(field, unicodeText).map(([name, text]): BodyPlan => ({ kind: 'ipn', mutate: (ipn) => ({ ...ipn, [name]: text }) })),
  fc.tuple(unicodeText, anyJson).map(([name, value]): BodyPlan => ({ kind: 'ipn', mutate: (ipn) => ({ ...ipn, [name]: value }) })),
  fc.constantFrom('payment_id', 'order_id', 'updated_at', 'price_amount').map((name): BodyPlan => ({ kind: 'ipn', mutate: (ipn) => ({ ...ipn, [name]: undefined }) })),
);

const structure: fc.Arbitrary<BodyPlan> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.boolean()).map(([depth, objects]): BodyPlan => ({
    kind: 'text',
    text: objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`,
  })),
  fc.integer({ min: 1, max: 5_000 }).map((count): BodyPlan => ({ kind: 'text', text: `{${Array.from({ length: count }, (_, index) => `"k${index}":${index}`).join(',')}}` })),
  fc.integer({ min: 1, max: 5_000 }).map((count): BodyPlan => ({ kind: 'text', text: `[${Array.from({ length: count }, () => '0').join(',')}]` })),
  fc.integer({ min: 1, max: 60_000 }).map((length): BodyPlan => ({ kind: 'text', text: `{"${'k'.repeat(length)}":1}` })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text): BodyPlan => ({ kind: 'text', text })),
  fc.jsonValue({ maxDepth: 4 }).map((value): BodyPlan => ({ kind: 'text', text: JSON.stringify(value) })),
  fc.constantFrom<BodyPlan>({ kind: 'text', text: '' }, { kind: 'text', text: 'null' }, { kind: 'text', text: '{"a":1,"a":2}' }, { kind: 'text', text: '{"__proto__":{"x":1}}' }, { kind: 'text', text: '\ufeff{}' }, { kind: 'text', text: '{"price_amount":00012}' }),
);

// ---- headers ------------------------------------------------------------------------------------

type Signature = 'valid' | 'none' | 'empty' | 'garbage-hex' | 'not-hex' | 'wrong-secret' | 'huge';
const signature = fc.constantFrom<Signature>('valid', 'valid', 'valid', 'none', 'empty', 'garbage-hex', 'not-hex', 'wrong-secret', 'huge');
const contentType = fc.constantFrom<string | null>(
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  null,
);

function signatureFor(kind: Signature, text: string): string | null {
  const signWith = (secret: string): string => {
    try {
      return signIpn(parse(text), secret);
    } catch {
      return 'ab'.repeat(64);
    }
  };
  switch (kind) {
    case 'valid':
      return signWith(testIpnSecret);
    case 'wrong-secret':
      return signWith('another-secret-0123456789');
    case 'none':
      return null;
    case 'empty':
      return '';
    case 'garbage-hex':
      return 'cd'.repeat(64);
    case 'not-hex':
      return 'z'.repeat(128);
    case 'huge':
      return 'a'.repeat(7_000);
  }
}

it(`answers every hostile request with a JSON 2xx or 4xx and writes only what it may (seed ${seed})`, async () => {
  console.log(`webhook fuzz: seed ${seed}, ${numRuns} runs (FUZZ_SEED=${seed} replays them)`);
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutation, structure), signature, contentType, async (plan, signatureKind, type) => {
      const text = plan.kind === 'ipn' ? ipnText(plan.mutate(finishedIpn())) : plan.text;
      // Only a body that a sender could sign (one that parses here) is sent signed: deep ones get any hex.
      const sig = plan.kind === 'ipn' || signatureKind !== 'valid' ? signatureFor(signatureKind, text) : 'ab'.repeat(64);
      const headers: Record<string, string> = {};
      if (type !== null) headers['content-type'] = type;
      if (sig !== null) headers['x-nowpayments-sig'] = sig;

      const before = await writes();
      const response = await fetch(`${webhook.url}/webhooks/nowpayments`, { method: 'POST', headers, body: text });
      const answerText = await response.text();
      const after = await writes();

      expect(response.status, answerText).toBeLessThan(500);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const answer = JSON.parse(answerText) as { status?: string; error?: { code: string; field: string; rule: string } };
      if (response.status >= 400) {
        // A rejection names the field and rule and leaves nothing behind.
        expect(answer.error).toMatchObject({ code: expect.any(String) as unknown, field: expect.any(String) as unknown, rule: expect.any(String) as unknown });
        expect(after).toEqual(before);
      } else if (answer.status === 'quarantined') {
        // Only a correctly signed IPN is kept, and only in the quarantine.
        expect(sig).toBe(signatureFor('valid', text));
        expect({ receipts: after.receipts, payments: after.payments, quarantineReceipts: after.quarantineReceipts }).toEqual({
          receipts: before.receipts,
          payments: before.payments,
          quarantineReceipts: before.quarantineReceipts + 1,
        });
      } else {
        // Accepted: a correctly signed, valid IPN, recorded as any other.
        expect(['accepted', 'duplicate', 'recorded']).toContain(answer.status);
        expect(sig).toBe(signatureFor('valid', text));
        expect(after.quarantined).toBe(before.quarantined);
      }
    }),
    { seed, numRuns, endOnFailure: true },
  );

  expect((await fetch(`${webhook.url}/health`)).status).toBe(200);
  expect((await fetch(`${webhook.url}/ready`)).status).toBe(200);
}, 300_000);
