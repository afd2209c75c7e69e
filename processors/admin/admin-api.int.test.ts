// Proves the admin API's contract through HTTP against the real stack: accepted client configs and
// threshold changes are stored, audited and published to their compacted topics (decoded through
// the registry); every bad request gets a specific 4xx and changes nothing in PostgreSQL or Kafka;
// a wallet change waits out its cooldown, visibly and cancellably. Every answer is checked against
// the served OpenAPI document (test/support/openapi-contract.ts).
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { topicNames } from '../../topics/topics.ts';
import type { ClientPayoutConfig, PipelineConfig } from '../../schemas/generated/records.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { uniqueClientId } from '../../test/support/ipn.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { openContractClient, type ContractClient } from '../../test/support/openapi-contract.ts';
import { startAdmin, type RunningAdmin } from './start-admin.ts';
import { runSetThreshold } from './set-threshold.ts';

const endpoints = inject('endpoints');
const adminToken = 'test-admin-token-0123456789abcdef';
const config = loadConfig({ ...testStackEnvironment(process.env), ADMIN_TOKEN: adminToken, WALLET_CHANGE_COOLDOWN: '24h' });
const silent = createLogger({ name: 'admin-test', level: 'silent' });
const dayMs = 86_400_000;

let admin: RunningAdmin;
let database: DatabasePool;
// Every answer this file sees is checked against the served OpenAPI document (the contract test).
let api: ContractClient;
// The admin's clock: the real time plus an offset a test may move forward.
let clockOffsetMs = 0;
const now = (): Date => new Date(Date.now() + clockOffsetMs);

const xmrA = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
const xmrB = '4AAUTuTFbdpY3hMi7QJTzZ3pzg6pyEHqp23ELXujriEd1T4q2FqXtyFXY7AUhozXuCbeiGv5u7K5JCydaZDXikvL1zKo3cU';
const evm = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const btc = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa';

beforeAll(async () => {
  admin = await startAdmin({ config, endpoints, port: 0, log: silent, now, cooldownSweepIntervalMs: 0, bodyLimitBytes: 2_048 });
  database = await openTestDatabase();
  api = await openContractClient(admin.url);
});

afterEach(() => {
  clockOffsetMs = 0;
});

afterAll(async () => {
  await admin.stop();
  await database.end();
});

interface CallOptions {
  body?: unknown;
  rawBody?: string;
  token?: string | null;
  contentType?: string;
  actor?: string;
}

async function call(method: string, path: string, options: CallOptions = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers['authorization'] = `Bearer ${options.token ?? adminToken}`;
  if (options.actor !== undefined) headers['x-actor'] = options.actor;
  const bodyText = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (bodyText !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await api.fetch(path, { method, headers, ...(bodyText === undefined ? {} : { body: bodyText }) });
  return { status: response.status, body: response.body as Record<string, unknown>, headers: response.headers };
}

const putClient = (clientId: string, body: unknown, options: CallOptions = {}) => call('PUT', `/api/clients/${clientId}`, { ...options, body });

function thresholdClient(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { strategy: 'threshold', threshold_usd: '250', wallet_address: xmrA, payout_currency: 'xmr', payout_network: 'xmr', ...overrides };
}

const count = z.object({ count: z.number() });

// drain() skips rows the relay's own loop has locked mid-send; wait for those to be stamped too.
async function published(topic: string): Promise<void> {
  await admin.relay.drain();
  const deadline = Date.now() + 15_000;
  while ((await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM outbox WHERE topic = ${topic} AND published_at IS NULL`)) > 0) {
    if (Date.now() > deadline) throw new Error(`outbox rows for ${topic} still unpublished after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function configRecordsFor(clientId: string): Promise<ClientPayoutConfig[]> {
  await published(topicNames.clientPayoutConfigs);
  const records = await readTopic(endpoints, topicNames.clientPayoutConfigs);
  return records.filter((record) => record.key === clientId).map((record) => record.value as ClientPayoutConfig);
}

async function tracesOf(clientId: string) {
  return {
    clients: await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM clients WHERE client_id = ${clientId}`),
    history: await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM client_config_history WHERE client_id = ${clientId}`),
    outbox: await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM outbox WHERE message_key = ${clientId}`),
  };
}

describe('registering clients', () => {
  it('stores a threshold client, publishes its ClientPayoutConfig and answers it on GET', async () => {
    const clientId = uniqueClientId();
    const created = await putClient(clientId, thresholdClient({ threshold_usd: '250.50' }), { actor: 'ops@example.com' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      outcome: 'created',
      client: { client_id: clientId, revision: 1, strategy: 'threshold', threshold_usd: '250.5', wallet_address: xmrA, pending_wallet_address: null },
    });

    const fetched = await call('GET', `/api/clients/${clientId}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body['client']).toEqual((created.body as { client: unknown }).client);

    const [record, ...others] = await configRecordsFor(clientId);
    expect(others).toHaveLength(0);
    // The actor is the token's name (ADMIN_TOKEN is "admin"); what X-Actor said is kept as a note.
    expect(record).toMatchObject({ client_id: clientId, revision: 1, strategy: 'THRESHOLD', wallet_address: xmrA, payout_currency: 'xmr', changed_by: 'admin' });
    expect(record?.threshold_usd?.equals(new Decimal('250.5'))).toBe(true);

    const history = await call('GET', `/api/clients/${clientId}/history`);
    expect(history.body['history']).toEqual([
      expect.objectContaining({
        revision: 1,
        changed_by: 'admin',
        actor_note: 'ops@example.com',
        config: expect.objectContaining({ events: ['registered'], threshold_usd: '250.5' }) as unknown,
      }),
    ]);
  });

  it('stores an instant client beside it, with no threshold', async () => {
    const clientId = uniqueClientId();
    const created = await putClient(clientId, { strategy: 'instant', wallet_address: evm, payout_currency: 'usdt', payout_network: 'eth' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ client: { strategy: 'instant', threshold_usd: null, payout_currency: 'usdt', payout_network: 'eth' } });
    const [record] = await configRecordsFor(clientId);
    expect(record).toMatchObject({ strategy: 'INSTANT', threshold_usd: null, wallet_address: evm, changed_by: 'admin' });
  });

  it('answers the same config again with 200 and the same revision, writing nothing', async () => {
    const clientId = uniqueClientId();
    expect((await putClient(clientId, thresholdClient())).status).toBe(201);
    const before = await tracesOf(clientId);
    const again = await putClient(clientId, thresholdClient({ threshold_usd: '250.00' }));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'unchanged', client: { revision: 1 } });
    expect(await tracesOf(clientId)).toEqual(before);
    expect(await configRecordsFor(clientId)).toHaveLength(1);
  });

  it('applies a threshold change at once as revision 2, with its history', async () => {
    const clientId = uniqueClientId();
    await putClient(clientId, thresholdClient());
    const changed = await putClient(clientId, thresholdClient({ threshold_usd: '500' }), { actor: 'ops' });
    expect(changed).toMatchObject({ status: 200, body: { outcome: 'updated', client: { revision: 2, threshold_usd: '500' } } });
    const records = await configRecordsFor(clientId);
    expect(records.map((record) => [record.revision, record.threshold_usd?.toFixed()])).toEqual([
      [1, '250'],
      [2, '500'],
    ]);
    expect(await tracesOf(clientId)).toMatchObject({ history: 2 });
  });

  it('answers 404 for a client that is not registered', async () => {
    const unknown = await call('GET', `/api/clients/${uniqueClientId()}`);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'client_not_found', field: 'clientId' } } });
  });
});

describe('authentication', () => {
  it.each([
    ['no token', null, 'missing_token'],
    ['a wrong token', 'wrong-token-0123456789abcdefgh', 'invalid_token'],
    ['a prefix of the token', adminToken.slice(0, -1), 'invalid_token'],
  ])('refuses %s with 401 and changes nothing', async (_name, token, code) => {
    const clientId = uniqueClientId();
    const response = await putClient(clientId, thresholdClient(), { token });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: { code, field: 'authorization' } });
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await tracesOf(clientId)).toEqual({ clients: 0, history: 0, outbox: 0 });
    expect((await call('GET', `/api/clients/${clientId}`, { token })).status).toBe(401);
    expect((await call('GET', '/api/config/micro-batch-threshold', { token })).status).toBe(401);
  });

  it('counts refusals in /metrics and leaves /health open', async () => {
    await call('GET', '/api/config/audit', { token: null });
    const metrics = await (await fetch(`${admin.url}/metrics`)).text();
    expect(metrics).toMatch(/admin_auth_failures_total\{reason="missing_token",service="admin"\} [1-9]/);
    expect((await fetch(`${admin.url}/health`)).status).toBe(200);
    expect((await fetch(`${admin.url}/ready`)).status).toBe(200);
  });
});

describe('bad client configs change nothing', () => {
  const cases: { name: string; body: () => unknown; field: string; rule?: string | RegExp; code?: string }[] = [
    { name: 'threshold below the minimum', body: () => thresholdClient({ threshold_usd: '49.99' }), field: 'threshold_usd', rule: 'minimum 50' },
    { name: 'threshold above the maximum', body: () => thresholdClient({ threshold_usd: '100000.01' }), field: 'threshold_usd', rule: 'maximum 100000' },
    { name: 'negative threshold', body: () => thresholdClient({ threshold_usd: '-100' }), field: 'threshold_usd', rule: 'positive' },
    { name: 'threshold not a decimal', body: () => thresholdClient({ threshold_usd: 'lots' }), field: 'threshold_usd', rule: 'decimal string' },
    { name: 'threshold as a JSON number', body: () => thresholdClient({ threshold_usd: 250 }), field: 'threshold_usd', rule: 'money as a decimal string' },
    { name: 'threshold strategy without threshold', body: () => thresholdClient({ threshold_usd: undefined }), field: 'threshold_usd', rule: 'required for strategy threshold' },
    { name: 'instant with a threshold', body: () => thresholdClient({ strategy: 'instant' }), field: 'threshold_usd', rule: 'absent for strategy instant' },
    { name: 'a Bitcoin address for XMR', body: () => thresholdClient({ wallet_address: btc }), field: 'wallet_address', code: 'invalid_wallet_address', rule: /Monero/ },
    {
      name: 'an EVM address with a wrong EIP-55 checksum',
      body: () => ({ strategy: 'instant', wallet_address: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', payout_currency: 'usdc', payout_network: 'eth' }),
      field: 'wallet_address',
      code: 'invalid_wallet_address',
      rule: /EIP-55/,
    },
    { name: 'an unknown currency', body: () => thresholdClient({ payout_currency: 'abc', payout_network: 'abc' }), field: 'payout_currency', code: 'unsupported_payout_pair', rule: /supported pair/ },
    {
      name: 'a known currency on an unknown network',
      body: () => thresholdClient({ payout_currency: 'usdt', payout_network: 'bsc', wallet_address: evm }),
      field: 'payout_network',
      code: 'unsupported_payout_pair',
      rule: 'supported network for usdt: eth, trx',
    },
    { name: 'an unknown strategy', body: () => thresholdClient({ strategy: 'monthly' }), field: 'strategy' },
    { name: 'an unknown field', body: () => thresholdClient({ treshold_usd: '100' }), field: 'treshold_usd', rule: 'unknown field' },
    // F5: an address nobody holds the key to burns the payout; the format alone does not show it.
    {
      name: 'the Solana system program as a SOL wallet',
      body: () => thresholdClient({ wallet_address: '11111111111111111111111111111111', payout_currency: 'sol', payout_network: 'sol' }),
      field: 'wallet_address',
      code: 'unspendable_wallet_address',
    },
  ];

  it.each(cases)('$name → 422 naming $field', async ({ body, field, rule, code }) => {
    const clientId = uniqueClientId();
    const response = await putClient(clientId, body());
    expect(response.status).toBe(422);
    const error = (response.body as { error: { code: string; field: string; rule: string } }).error;
    expect(error.field).toBe(field);
    if (code !== undefined) expect(error.code).toBe(code);
    if (typeof rule === 'string') expect(error.rule).toBe(rule);
    else if (rule !== undefined) expect(error.rule).toMatch(rule);
    expect(await tracesOf(clientId)).toEqual({ clients: 0, history: 0, outbox: 0 });
    expect(await configRecordsFor(clientId)).toHaveLength(0);
  });

  it('keeps an existing client as it was when a change is refused', async () => {
    const clientId = uniqueClientId();
    await putClient(clientId, thresholdClient());
    const before = await tracesOf(clientId);
    expect((await putClient(clientId, thresholdClient({ threshold_usd: '10' }))).status).toBe(422);
    expect((await putClient(clientId, thresholdClient({ payout_currency: 'btc', payout_network: 'btc' }))).status).toBe(422);
    expect(await tracesOf(clientId)).toEqual(before);
    expect((await call('GET', `/api/clients/${clientId}`)).body).toMatchObject({ client: { revision: 1, threshold_usd: '250' } });
    expect(await configRecordsFor(clientId)).toHaveLength(1);
  });

  it.each([
    ['a malformed client id', 422, 'validation_failed', 'PUT', '/api/clients/abc', { body: thresholdClient() }],
    ['malformed JSON', 400, 'malformed_json', 'PUT', '/api/clients/-1001', { rawBody: '{"strategy": "thr' }],
    ['a wrong content type', 415, 'unsupported_media_type', 'PUT', '/api/clients/-1001', { rawBody: 'strategy=threshold', contentType: 'text/plain' }],
    ['a body over the limit', 413, 'body_too_large', 'PUT', '/api/clients/-1001', { body: thresholdClient({ wallet_address: 'x'.repeat(4_000) }) }],
    ['an unknown route', 404, 'not_found', 'GET', '/api/nothing-here', {}],
    ['a bad actor header', 422, 'validation_failed', 'PUT', '/api/clients/-1001', { body: thresholdClient(), actor: 'drop table;' }],
    // F4: malformed percent-encoding in a path parameter is the client's mistake, on every route.
    ['malformed percent-encoding in a client id', 400, 'malformed_uri', 'GET', '/api/clients/%ff', {}],
    ['malformed percent-encoding in a client id of a PUT', 400, 'malformed_uri', 'PUT', '/api/clients/-1001%E0%A4%A', { body: thresholdClient() }],
    ['malformed percent-encoding in a batch id', 400, 'malformed_uri', 'POST', '/api/payout-batches/%C0%AF/retry', {}],
  ] as const)('answers %s with %i', async (_name, status, code, method, path, options) => {
    const response = await call(method, path, options);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ error: { code } });
  });
});

describe('who is recorded as the actor', () => {
  // F6: the system: namespace belongs to the pipeline's own changes (the cooldown sweep); a request
  // that could write it would forge history.
  it('never records a system: actor for a request, and writes nothing when one is claimed', async () => {
    const clientId = uniqueClientId();
    const claimed = await putClient(clientId, thresholdClient(), { actor: 'system:wallet-cooldown' });
    expect(claimed.status).toBe(422);
    expect(claimed.body).toMatchObject({ error: { field: 'x-actor' } });
    expect(await tracesOf(clientId)).toEqual({ clients: 0, history: 0, outbox: 0 });
  });
});

describe('the wallet change cooldown', () => {
  it('holds a new wallet as pending, visible in GET, and cancellable', async () => {
    const clientId = uniqueClientId();
    await putClient(clientId, thresholdClient());
    const requestedAt = now();
    const changed = await putClient(clientId, thresholdClient({ wallet_address: xmrB }), { actor: 'ops' });
    expect(changed.body).toMatchObject({ outcome: 'updated', client: { revision: 2, wallet_address: xmrA, pending_wallet_address: xmrB } });
    const effectiveAt = new Date(String((changed.body['client'] as Record<string, unknown>)['pending_wallet_effective_at']));
    expect(effectiveAt.getTime() - requestedAt.getTime()).toBeGreaterThanOrEqual(dayMs - 5_000);
    expect(effectiveAt.getTime() - requestedAt.getTime()).toBeLessThanOrEqual(dayMs + 5_000);

    const fetched = await call('GET', `/api/clients/${clientId}`);
    expect(fetched.body).toMatchObject({ client: { wallet_address: xmrA, pending_wallet_address: xmrB, pending_change: { requested_by: 'admin', wallet_address: xmrB } } });
    const records = await configRecordsFor(clientId);
    expect(records[1]).toMatchObject({ revision: 2, wallet_address: xmrA, pending_wallet_address: xmrB, pending_wallet_effective_at: effectiveAt });

    const cancelled = await call('DELETE', `/api/clients/${clientId}/pending-wallet`, { actor: 'security' });
    expect(cancelled).toMatchObject({ status: 200, body: { outcome: 'cancelled', cancelled: { wallet_address: xmrB }, client: { revision: 3, pending_wallet_address: null } } });
    expect((await call('GET', `/api/clients/${clientId}`)).body).toMatchObject({ client: { wallet_address: xmrA, pending_wallet_address: null } });
    expect((await configRecordsFor(clientId)).at(-1)).toMatchObject({ revision: 3, wallet_address: xmrA, pending_wallet_address: null, changed_by: 'admin' });
    expect(await call('DELETE', `/api/clients/${clientId}/pending-wallet`)).toMatchObject({ status: 404, body: { error: { code: 'no_pending_wallet_change' } } });
  });

  it('puts the new wallet in force once the cooldown has passed, and then no longer cancels it', async () => {
    const clientId = uniqueClientId();
    await putClient(clientId, thresholdClient());
    await putClient(clientId, thresholdClient({ wallet_address: xmrB }));
    clockOffsetMs = dayMs + 60_000;
    expect((await call('GET', `/api/clients/${clientId}`)).body).toMatchObject({ client: { wallet_address: xmrB, pending_wallet_address: null } });
    expect(await call('DELETE', `/api/clients/${clientId}/pending-wallet`)).toMatchObject({ status: 409, body: { error: { code: 'pending_wallet_change_effective' } } });

    expect(await admin.clients.applyDuePending('test-sweep')).toBeGreaterThanOrEqual(1);
    expect((await configRecordsFor(clientId)).at(-1)).toMatchObject({ revision: 3, wallet_address: xmrB, pending_wallet_address: null, changed_by: 'system:wallet-cooldown' });
  });

  it('holds a currency change with its wallet and publishes it only when it takes effect', async () => {
    const clientId = uniqueClientId();
    await putClient(clientId, thresholdClient());
    const changed = await putClient(clientId, thresholdClient({ wallet_address: btc, payout_currency: 'btc', payout_network: 'btc' }));
    expect(changed.body).toMatchObject({ client: { payout_currency: 'xmr', wallet_address: xmrA, pending_change: { wallet_address: btc, payout_currency: 'btc' } } });
    // The Avro record has no pending currency: the pending BTC address must not reach consumers yet.
    expect((await configRecordsFor(clientId)).at(-1)).toMatchObject({ revision: 2, wallet_address: xmrA, payout_currency: 'xmr', pending_wallet_address: null });

    clockOffsetMs = dayMs + 60_000;
    await admin.clients.applyDuePending('test-sweep');
    expect((await configRecordsFor(clientId)).at(-1)).toMatchObject({ revision: 3, wallet_address: btc, payout_currency: 'btc', payout_network: 'btc' });
  });
});

describe('clients that reached the table from the topic alone', () => {
  it('shows and cancels a pending wallet known only from the clients row (as the router stores records)', async () => {
    const clientId = uniqueClientId();
    const effectiveAt = new Date(Date.now() + dayMs);
    await database.query(sql.unsafe`
      INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network,
                           pending_wallet_address, pending_wallet_effective_at)
      VALUES (${clientId}, 4, 'threshold', 100, ${xmrA}, 'xmr', 'xmr', ${xmrB}, ${effectiveAt.toISOString()})`);
    expect((await call('GET', `/api/clients/${clientId}`)).body).toMatchObject({
      client: { revision: 4, wallet_address: xmrA, pending_wallet_address: xmrB, pending_wallet_effective_at: effectiveAt.toISOString() },
    });
    expect((await call('GET', `/api/clients/${clientId}/history`)).body).toEqual({ client_id: clientId, history: [] });
    expect(await call('DELETE', `/api/clients/${clientId}/pending-wallet`)).toMatchObject({ status: 200, body: { client: { revision: 5, pending_wallet_address: null } } });
    expect((await configRecordsFor(clientId)).at(-1)).toMatchObject({ revision: 5, wallet_address: xmrA, pending_wallet_address: null });
  });
});

describe('the runtime micro-batch threshold', () => {
  const auditRow = z.object({ old_value: z.string().nullable(), new_value: z.string(), changed_by: z.string(), actor_note: z.string().nullable(), changed_at: z.date() });

  async function pipelineRecord(changeId: string): Promise<PipelineConfig | undefined> {
    await published(topicNames.pipelineConfig);
    const records = await readTopic(endpoints, topicNames.pipelineConfig);
    const matching = records.filter((record) => (record.value as PipelineConfig).change_id === changeId);
    expect(matching.every((record) => record.key === 'pipeline')).toBe(true);
    return matching[0]?.value as PipelineConfig | undefined;
  }

  afterAll(async () => {
    // Later test files read the compacted pipeline-config topic: leave it at the configured default.
    await call('PUT', '/api/config/micro-batch-threshold', { body: { value: config.MICRO_BATCH_THRESHOLD_USD }, actor: 'test-cleanup' });
    await published(topicNames.pipelineConfig);
  });

  it('audits a change (old, new, who, when) and publishes a PipelineConfig record', async () => {
    const before = await call('GET', '/api/config/micro-batch-threshold');
    expect(before.status).toBe(200);
    const oldValue = String(before.body['value']);
    const newValue = new Decimal(oldValue).plus('1.25').toFixed();

    const changed = await call('PUT', '/api/config/micro-batch-threshold', { body: { value: newValue }, actor: 'treasury' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      outcome: 'changed',
      value: newValue,
      source: 'runtime',
      change: { old_value: oldValue, new_value: newValue, changed_by: 'admin', actor_note: 'treasury' },
    });
    const changeId = String((changed.body['change'] as Record<string, unknown>)['change_id']);

    const audit = await database.one(sql.type(auditRow)`SELECT old_value, new_value, changed_by, actor_note, changed_at FROM config_audit WHERE change_id = ${changeId}`);
    expect(audit).toMatchObject({ old_value: oldValue, new_value: newValue, changed_by: 'admin', actor_note: 'treasury' });
    expect(Math.abs(audit.changed_at.getTime() - Date.now())).toBeLessThan(60_000);

    const record = await pipelineRecord(changeId);
    expect(record?.micro_batch_threshold_usd.equals(new Decimal(newValue))).toBe(true);
    expect(record?.changed_by).toBe('admin');

    expect((await call('GET', '/api/config/micro-batch-threshold')).body).toMatchObject({ value: newValue, source: 'runtime', last_change: { change_id: changeId } });
    const listed = await call('GET', '/api/config/audit?setting=micro_batch_threshold_usd&limit=5');
    expect((listed.body['entries'] as { change_id: string }[])[0]?.change_id).toBe(changeId);

    const same = await call('PUT', '/api/config/micro-batch-threshold', { body: { value: newValue } });
    expect(same.body).toMatchObject({ outcome: 'unchanged', change: null });
  });

  it.each([
    ['zero', { value: '0' }, 'greater than 0'],
    ['negative', { value: '-5' }, 'positive'],
    ['not a number', { value: 'twenty' }, 'decimal string'],
    ['above the ceiling', { value: '100000.01' }, 'maximum 100000'],
    ['a JSON number', { value: 25 }, 'money as a decimal string'],
    ['more than 8 decimals', { value: '20.123456789' }, 'at most 8 decimal places'],
    ['missing', {}, 'required'],
  ])('refuses a value that is %s with 422 and audits nothing', async (_name, body, rule) => {
    const countBefore = await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM config_audit`);
    const response = await call('PUT', '/api/config/micro-batch-threshold', { body });
    expect(response).toMatchObject({ status: 422, body: { error: { field: 'value', rule } } });
    expect(await database.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM config_audit`)).toBe(countBefore);
  });

  it('is set the same way from the CLI function', async () => {
    const current = String((await call('GET', '/api/config/micro-batch-threshold')).body['value']);
    const value = new Decimal(current).plus('0.5').toFixed();
    const result = await runSetThreshold({ config, endpoints, log: silent, value, actor: 'cli:test' });
    expect(result).toMatchObject({ published: true, outcome: { kind: 'changed', change: { old_value: current, new_value: value, changed_by: 'cli:test' } } });
    if (result.outcome.kind !== 'changed') throw new Error('expected a change');
    const record = await pipelineRecord(result.outcome.change.change_id);
    expect(record?.micro_batch_threshold_usd.toFixed()).toBe(value);
    await expect(runSetThreshold({ config, endpoints, log: silent, value: '-1' })).rejects.toMatchObject({ field: 'value', rule: 'positive' });
  });
});
