// Proves through the real admin API and PostgreSQL that a named token acts under its own name: the
// history, the audit trail and the published record say which token changed what, a caller's note
// is kept beside it, and no request can write a system: actor, while ADMIN_TOKEN still works as
// "admin".
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { uniqueClientId } from '../../test/support/ipn.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { sha256Of } from './admin-tokens.ts';
import { startAdmin, type RunningAdmin } from './start-admin.ts';

const endpoints = inject('endpoints');
const plainToken = 'test-admin-token-0123456789abcdef';
const opsToken = 'ops-token-0123456789abcdef-0123456789';
const treasuryToken = 'treasury-token-0123456789abcdef-01234';
const config = loadConfig({
  ...testStackEnvironment(process.env),
  ADMIN_TOKEN: plainToken,
  ADMIN_TOKENS: `ops:${sha256Of(opsToken).toString('hex')},treasury:${sha256Of(treasuryToken).toString('hex')}`,
});
const xmr = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';

let admin: RunningAdmin;
let database: DatabasePool;
let thresholdBefore: string;

async function call(method: string, path: string, token: string, headers: Record<string, string> = {}, body?: unknown) {
  const response = await fetch(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const historyRow = z.object({ changed_by: z.string(), actor_note: z.string().nullable() });
const count = z.object({ count: z.number() });

beforeAll(async () => {
  admin = await startAdmin({ config, endpoints, port: 0, log: createLogger({ name: 'tokens-test', level: 'silent' }), cooldownSweepIntervalMs: 0 });
  database = await openTestDatabase();
  thresholdBefore = String((await call('GET', '/api/config/micro-batch-threshold', plainToken)).body['value']);
});

afterAll(async () => {
  // Later files read the compacted pipeline-config topic: leave the threshold as it was.
  await call('PUT', '/api/config/micro-batch-threshold', plainToken, {}, { value: thresholdBefore });
  await admin.relay.drain();
  await admin.stop();
  await database.end();
});

const client = { strategy: 'threshold', threshold_usd: '250', wallet_address: xmr, payout_currency: 'xmr', payout_network: 'xmr' };

it('records the token name as the actor and the note beside it', async () => {
  const clientId = uniqueClientId();
  const created = await call('PUT', `/api/clients/${clientId}`, opsToken, { 'x-actor-note': 'ticket OPS-42 for alice' }, client);
  expect(created.status).toBe(201);
  expect(await database.one(sql.type(historyRow)`SELECT changed_by, actor_note FROM client_config_history WHERE client_id = ${clientId}`)).toEqual({
    changed_by: 'ops',
    actor_note: 'ticket OPS-42 for alice',
  });
  const history = await call('GET', `/api/clients/${clientId}/history`, treasuryToken);
  expect(history.body['history']).toEqual([expect.objectContaining({ changed_by: 'ops', actor_note: 'ticket OPS-42 for alice' })]);

  const changed = await call('PUT', `/api/clients/${clientId}`, plainToken, {}, { ...client, threshold_usd: '300' });
  expect(changed.status).toBe(200);
  expect((await call('GET', `/api/clients/${clientId}/history`, opsToken)).body['history']).toEqual([
    expect.objectContaining({ revision: 1, changed_by: 'ops' }),
    expect.objectContaining({ revision: 2, changed_by: 'admin', actor_note: null }),
  ]);
});

it('audits a threshold change under the token name', async () => {
  const value = new Decimal(thresholdBefore).plus('0.75').toFixed();
  const changed = await call('PUT', '/api/config/micro-batch-threshold', treasuryToken, { 'x-actor': 'alice@example.com' }, { value });
  expect(changed).toMatchObject({ status: 200, body: { outcome: 'changed', change: { changed_by: 'treasury', actor_note: 'alice@example.com' } } });
});

it.each([
  ['X-Actor', { 'x-actor': 'system:wallet-cooldown' }, 'x-actor'],
  ['X-Actor-Note', { 'x-actor-note': 'system:wallet-cooldown' }, 'x-actor-note'],
  ['X-Actor in capitals', { 'x-actor': 'SYSTEM:wallet-cooldown' }, 'x-actor'],
])('refuses a system: claim in %s with 422 and writes nothing', async (_name, headers, field) => {
  const clientId = uniqueClientId();
  const auditBefore = await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM config_audit`);
  expect(await call('PUT', `/api/clients/${clientId}`, opsToken, headers, client)).toMatchObject({ status: 422, body: { error: { field } } });
  expect(await call('PUT', '/api/config/micro-batch-threshold', opsToken, headers, { value: '77' })).toMatchObject({ status: 422, body: { error: { field } } });
  expect(await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM client_config_history WHERE client_id = ${clientId}`)).toBe(0);
  expect(await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM config_audit`)).toBe(auditBefore);
  const systemRows = await database.oneFirst(sql.type(count)`
    SELECT (SELECT count(*) FROM client_config_history WHERE client_id = ${clientId} AND changed_by LIKE 'system:%')::int AS count`);
  expect(systemRows).toBe(0);
});

it('refuses a token that is only the digest of a named token', async () => {
  expect((await call('GET', '/api/config/audit', sha256Of(opsToken).toString('hex'))).status).toBe(401);
});
