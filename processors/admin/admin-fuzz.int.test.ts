// Proves that no request, however hostile, makes the real admin API process (`cli run admin`
// against the real stack) answer 5xx, write anything when it refuses, or fall over: fast-check
// sends seeded random paths (broken percent-encoding, traversal, unicode, long ids), bodies, tokens,
// actor headers, content types and encodings, and compares the admin's tables before and after
// every refusal. Reproduce a failure with the printed seed: ADMIN_FUZZ_SEED=<seed>.
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { openTestDatabase } from '../../test/support/database.ts';
import { startProcessorProcess, type ProcessorProcess } from '../../test/support/processor-process.ts';
import { rawRequest, type RawRequest } from '../../test/support/raw-http.ts';
import { sha256Of } from './admin-tokens.ts';

const seed = Number(process.env['ADMIN_FUZZ_SEED'] ?? Date.now() % 2_147_483_647);
const numRuns = 200;
const plainToken = 'test-admin-token-0123456789abcdef';
const namedToken = 'fuzz-named-token-0123456789abcdef';

let admin: ProcessorProcess;
let database: DatabasePool;
let thresholdBefore: string;

const fingerprint = z.object({ fingerprint: z.string() });

/**
 * Everything the admin API can write. The outbox is counted, not hashed: its relay stamps
 * published_at on rows of earlier, accepted changes at any moment.
 */
async function snapshot(): Promise<string> {
  const digestOf = (table: string) => sql.fragment`(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ${sql.identifier([table])} t)`;
  return database.oneFirst(sql.type(fingerprint)`
    SELECT concat_ws(' ',
      ${digestOf('clients')}, ${digestOf('client_config_history')}, ${digestOf('client_pending_destinations')},
      ${digestOf('config_audit')}, ${digestOf('payout_trigger_requests')}, ${digestOf('payout_retry_requests')}, ${digestOf('payout_batches')},
      (SELECT count(*)::text FROM outbox)) AS fingerprint
  `);
}

const dueCount = z.object({ count: z.number() });

beforeAll(async () => {
  database = await openTestDatabase();
  admin = await startProcessorProcess('admin', 'ADMIN_PORT', {
    environment: {
      ADMIN_TOKENS: `fuzz:${sha256Of(namedToken).toString('hex')}`,
      // The fuzz test is about answers, not throttling (core/http/http-exposure.int.test.ts proves the limit).
      ADMIN_RATE_LIMIT_PER_MINUTE: '1000000',
      LOG_LEVEL: 'fatal',
    },
  });
  // The process's cooldown sweep may apply destination changes other test files left due; let it
  // finish first, so the only writes during the run are the ones requests cause.
  const deadline = Date.now() + 30_000;
  while (
    (await database.oneFirst(sql.type(dueCount)`
      SELECT (SELECT count(*) FROM client_pending_destinations WHERE effective_at <= now() + interval '10 minutes')::int
           + (SELECT count(*) FROM clients WHERE pending_wallet_effective_at <= now() + interval '10 minutes')::int AS count`)) > 0
  ) {
    if (Date.now() > deadline) throw new Error('due destination changes were not applied within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const threshold = await rawRequest(admin.url, { method: 'GET', path: '/api/config/micro-batch-threshold', headers: { authorization: `Bearer ${plainToken}` } });
  thresholdBefore = (JSON.parse(threshold.text) as { value: string }).value;
});

afterAll(async () => {
  // A generated body could, by chance, be a valid threshold: later files read the pipeline-config topic.
  if (thresholdBefore !== undefined) {
    await rawRequest(admin.url, {
      method: 'PUT',
      path: '/api/config/micro-batch-threshold',
      headers: { authorization: `Bearer ${plainToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value: thresholdBefore }),
    });
  }
  if (admin !== undefined) expect(await admin.terminate()).toBe(0);
  await database?.end();
});

// ---- generators -----------------------------------------------------------------------------

const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((code) => code !== 0x7f).map((code) => String.fromCharCode(code)), maxLength: 300 });
const pathCharacter = fc.integer({ min: 0x21, max: 0x7e }).filter((code) => code !== 0x3f && code !== 0x23).map((code) => String.fromCharCode(code));

const hostileSegments = [
  '%ff', '%', '%2', '%zz', '%00', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%2e%2e%2f%2e%2e%2f', '..', '../..', '..%2f..%2fetc%2fpasswd',
  '%252e%252e', '-1001%00', '-1001%0d%0aX-Injected:%20yes', '%u0041', '%EF%BB%BF-1001', '-0', '00000000000001', '-99999999999999',
  '123456789012345', 'constructor', '__proto__', 'toString', '%7B%7D',
];
const validClientId = fc.oneof(fc.constant('-1001234567890'), fc.integer({ min: 1, max: 99_999_999 }).map((n) => `-100${n}`));
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...hostileSegments) },
  { weight: 2, arbitrary: validClientId },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map((text) => encodeURIComponent(text)) },
  { weight: 2, arbitrary: fc.string({ unit: pathCharacter, minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 6_000 }).map((length) => '9'.repeat(length)) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 3_000 }).map((length) => '%ff'.repeat(length)) },
);
const queryValue = fc.oneof(fc.constantFrom('1', '1000', '1001', '0', '-1', '1e3', '%ff', 'micro_batch_threshold_usd', '__proto__'), segment);
// Mostly the routes the API has, with their own methods, so requests reach the handlers' rules;
// now and then any method on any path.
const routed = fc.oneof(
  segment.map((id) => ['PUT', `/api/clients/${id}`]),
  segment.map((id) => ['PUT', `/api/clients/${id}`]),
  segment.map((id) => ['GET', `/api/clients/${id}`]),
  segment.map((id) => ['GET', `/api/clients/${id}/history`]),
  segment.map((id) => ['DELETE', `/api/clients/${id}/pending-wallet`]),
  segment.map((id) => ['GET', `/api/clients/${id}/balance`]),
  segment.map((id) => ['POST', `/api/clients/${id}/payouts`]),
  segment.map((id) => ['GET', `/api/payout-requests/${id}`]),
  segment.map((id) => ['GET', `/api/payout-batches/${id}`]),
  segment.map((id) => ['POST', `/api/payout-batches/${id}/retry`]),
  fc.constant(['PUT', '/api/config/micro-batch-threshold']),
  fc.constant(['PUT', '/api/config/micro-batch-threshold']),
  fc.constant(['GET', '/api/config/micro-batch-threshold']),
  fc.tuple(queryValue, queryValue).map(([limit, setting]) => ['GET', `/api/config/audit?limit=${limit}&setting=${setting}`]),
  fc.tuple(queryValue, queryValue).map(([limit, setting]) => ['GET', `/api/config/audit?limit=${limit}&setting=${setting}&limit=${limit}`]),
) as fc.Arbitrary<[string, string]>;
const anyMethod = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
const unrouted = fc.tuple(anyMethod, fc.oneof(routed.map(([, path]) => path), segment.map((rest) => `/api/${rest}`), segment.map((rest) => `/${rest}`)));
const methodAndPath = fc.oneof({ weight: 5, arbitrary: routed }, { weight: 1, arbitrary: unrouted });

const authorization = fc.oneof(
  { weight: 5, arbitrary: fc.constant(`Bearer ${plainToken}`) },
  { weight: 3, arbitrary: fc.constant(`Bearer ${namedToken}`) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer ', `Basic ${plainToken}`, `Bearer ${plainToken}x`, `Bearer ${plainToken} extra`, `bearer   ${plainToken}`, `Bearer ${sha256Of(namedToken).toString('hex')}`) },
  { weight: 1, arbitrary: headerText.map((text) => `Bearer ${text}`) },
);
const actorHeaderValue = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('system:wallet-cooldown', 'SYSTEM:x', 'system:', 'ops@example.com', 'drop table;', '\u00e9t\u00e9') },
  { weight: 1, arbitrary: headerText },
);
const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constantFrom(undefined, 'application/json; charset=utf-16', 'application/json; charset=bogus', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/merge-patch+json', '*/*', 'application/json, text/plain') },
  { weight: 1, arbitrary: headerText },
);
const contentEncoding = fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus', 'gzip, gzip') });

const validWallet = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
const hostileValue = fc.oneof(
  fc.constantFrom(
    '', '\u0000', 'a\u0000b', '\ud800', '\uffff', '1e400', '-0', '0.000000001', '99999999999999999999999999999999.99', '250', '250.5', 'NaN', 'Infinity',
    validWallet, `${validWallet}\u0000`, '11111111111111111111111111111111', '0x0000000000000000000000000000000000000000', 'xmr', 'XMR', 'sol', 'threshold', 'instant',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.integer({ min: 1, max: 8 }).map((n) => '9'.repeat(n * 40)),
);
const clientBody = fc
  .record(
    {
      strategy: fc.oneof(fc.constantFrom('threshold', 'instant'), hostileValue),
      threshold_usd: fc.oneof(fc.constant('250'), hostileValue),
      wallet_address: fc.oneof(fc.constant(validWallet), hostileValue),
      payout_currency: fc.oneof(fc.constant('xmr'), hostileValue),
      payout_network: fc.oneof(fc.constant('xmr'), hostileValue),
      value: hostileValue,
      extra: hostileValue,
    },
    { requiredKeys: [] },
  )
  .map((body) => JSON.stringify(body));
const body = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: clientBody },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constantFrom('{"value": 1e999999}', '{"value":"1"', '[', '{"a":'.repeat(3_000), '['.repeat(15_000), '\ufeff{"value":"25"}', '{"value":"25"}{"value":"26"}', 'null', '"text"', '{"__proto__":{"strategy":"instant"},"constructor":{"prototype":{"x":1}}}') },
  { weight: 1, arbitrary: fc.integer({ min: 16_385, max: 40_000 }).map((length) => JSON.stringify({ wallet_address: 'x'.repeat(length) })) },
  { weight: 1, arbitrary: fc.constant(Buffer.from([0x7b, 0x22, 0x76, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d])) },
);

const request = fc
  .record({
    methodAndPath,
    authorization,
    actor: actorHeaderValue,
    note: actorHeaderValue,
    contentType,
    contentEncoding,
    correlationId: fc.option(headerText, { nil: undefined }),
    body,
  })
  .map((generated): RawRequest => {
    const headers: Record<string, string> = {};
    if (generated.authorization !== undefined) headers['authorization'] = generated.authorization;
    if (generated.actor !== undefined) headers['x-actor'] = generated.actor;
    if (generated.note !== undefined) headers['x-actor-note'] = generated.note;
    if (generated.contentType !== undefined) headers['content-type'] = generated.contentType;
    if (generated.contentEncoding !== undefined) headers['content-encoding'] = generated.contentEncoding;
    if (generated.correlationId !== undefined) headers['x-correlation-id'] = generated.correlationId;
    const [method, path] = generated.methodAndPath;
    return { method, path, headers, ...(generated.body === undefined ? {} : { body: generated.body }) };
  });

// ---- the property ---------------------------------------------------------------------------

it(`answers ${numRuns} hostile requests without a 5xx, writes nothing on a refusal, and stays healthy`, async () => {
  console.log(`admin fuzz seed ${seed} (rerun with ADMIN_FUZZ_SEED=${seed})`);
  let before = await snapshot();
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async (sent) => {
      const answer = await rawRequest(admin.url, sent);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const after = await snapshot();
      const described = `${sent.method} ${sent.path.slice(0, 120)} → ${answer.status} ${answer.text.slice(0, 300)}`;
      expect(answer.status, described).toBeGreaterThanOrEqual(200);
      expect(answer.status, described).toBeLessThan(500);
      expect(answer.headers['x-powered-by'], described).toBeUndefined();
      if (answer.status >= 400) {
        expect(after, `a refused request changed the database: ${described}`).toBe(before);
        if (sent.method !== 'HEAD') {
          expect(String(answer.headers['content-type']), described).toMatch(/^application\/json/);
          expect(JSON.parse(answer.text), described).toMatchObject({ error: { code: expect.any(String) as unknown, message: expect.any(String) as unknown } });
        }
      }
      before = after;
    }),
    { seed, numRuns, endOnFailure: true },
  );
  console.log(`admin fuzz answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);

  expect((await rawRequest(admin.url, { method: 'GET', path: '/health' })).status).toBe(200);
  expect((await rawRequest(admin.url, { method: 'GET', path: '/ready' })).status).toBe(200);
  expect(admin.child.exitCode).toBeNull();
}, 600_000);
