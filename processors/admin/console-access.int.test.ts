// Proves console access through HTTP against the real admin process and PostgreSQL, every answer
// checked against the served OpenAPI document (test/support/openapi-contract.ts): a log-in sets an
// HttpOnly, SameSite=Strict session cookie; the cookie reads, and acts only with its X-CSRF-Token;
// a viewer reads and never acts (cookie or bearer); a bearer token still acts without CSRF; a
// log-out revokes the session; a session past CONSOLE_SESSION_TTL is refused; every non-GET
// request lands in the audit with its actor and status; bad bodies and queries are 400 naming the
// field; a second admin instance serves the first one's sessions, but not one whose token it does
// not have. The admin's clock is the test's, so expiry needs no waiting.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { eventually } from '../../test/support/eventually.ts';
import { openContractClient, type CheckedResponse, type ContractClient } from '../../test/support/openapi-contract.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import type { AuditListItem, SessionBody } from './api-schemas.ts';
import { startAdmin, type RunningAdmin } from './start-admin.ts';

const endpoints = inject('endpoints');
const operatorToken = 'test-admin-token-access-0123456789';
const viewerToken = 'test-viewer-token-access-0123456789';
const config = loadConfig({
  ...testStackEnvironment(process.env),
  ADMIN_TOKEN: operatorToken,
  ADMIN_VIEWER_TOKEN: viewerToken,
  CONSOLE_SESSION_TTL: '8h',
  CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE: '100',
});
const ttlMs = 8 * 3_600_000;

let clockOffsetMs = 0;
let admin: RunningAdmin;
let api: ContractClient;
let thresholdValue: string;

beforeAll(async () => {
  admin = await startAdmin({
    config,
    endpoints,
    port: 0,
    log: createLogger({ name: 'console-access-test', level: 'silent' }),
    now: () => new Date(Date.now() + clockOffsetMs),
    cooldownSweepIntervalMs: 0,
    livenessCheckIntervalMs: 0,
    consumerLagIntervalMs: 0,
  });
  api = await openContractClient(admin.url);
  const threshold = await api.fetch('/api/config/micro-batch-threshold', { headers: { authorization: `Bearer ${operatorToken}` } });
  thresholdValue = String((threshold.body as { value: string }).value);
});

afterAll(async () => {
  await admin?.stop();
});

interface Session {
  readonly cookie: string;
  readonly setCookie: string;
  readonly body: SessionBody;
}

const json = { 'content-type': 'application/json' };

async function logIn(token: string): Promise<Session> {
  const answer = await api.fetch('/api/session', { method: 'POST', headers: json, body: JSON.stringify({ token }) });
  expect(answer.status).toBe(200);
  const setCookie = answer.headers.getSetCookie()[0] ?? '';
  return { cookie: setCookie.split(';')[0] ?? '', setCookie, body: answer.body as SessionBody };
}

/** Sets the threshold to the value it has: an action that changes nothing. */
function touchThreshold(headers: Record<string, string>): Promise<CheckedResponse> {
  return api.fetch('/api/config/micro-batch-threshold', { method: 'PUT', headers: { ...json, ...headers }, body: JSON.stringify({ value: thresholdValue }) });
}

const errorOf = (answer: CheckedResponse) => (answer.body as { error: { code: string; field?: string; rule?: string } }).error;

describe('an operator session', () => {
  it('logs in with an HttpOnly, SameSite=Strict cookie lasting the TTL, and reads with it', async () => {
    const session = await logIn(operatorToken);
    expect(session.setCookie).toMatch(/^pp_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800$/);
    expect(session.body).toMatchObject({ actor: 'admin', role: 'operator' });
    expect(Date.parse(session.body.expires_at) - Date.now()).toBeGreaterThan(ttlMs - 60_000);
    expect(session.body.csrf_token).not.toBe(session.cookie.split('=')[1]);

    const again = await api.fetch('/api/session', { headers: { cookie: session.cookie } });
    expect(again).toMatchObject({ status: 200, body: session.body });
    expect((await api.fetch('/api/clients?limit=1', { headers: { cookie: session.cookie } })).status).toBe(200);
  });

  it('acts only with its own X-CSRF-Token', async () => {
    const session = await logIn(operatorToken);
    const other = await logIn(operatorToken);
    const without = await touchThreshold({ cookie: session.cookie });
    expect(without.status).toBe(403);
    expect(errorOf(without)).toMatchObject({ code: 'csrf_token', field: 'x-csrf-token' });
    expect((await touchThreshold({ cookie: session.cookie, 'x-csrf-token': other.body.csrf_token })).status).toBe(403);
    const withToken = await touchThreshold({ cookie: session.cookie, 'x-csrf-token': session.body.csrf_token });
    expect(withToken).toMatchObject({ status: 200, body: { outcome: 'unchanged' } });
  });

  it('is not needed by a bearer token, which acts without a CSRF header', async () => {
    expect((await touchThreshold({ authorization: `Bearer ${operatorToken}` })).status).toBe(200);
  });

  it('logs out (with its CSRF header): the session is revoked and the cookie cleared', async () => {
    const session = await logIn(operatorToken);
    expect((await api.fetch('/api/session', { method: 'DELETE', headers: { cookie: session.cookie } })).status).toBe(403);
    const out = await api.fetch('/api/session', { method: 'DELETE', headers: { cookie: session.cookie, 'x-csrf-token': session.body.csrf_token } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^pp_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    const after = await api.fetch('/api/session', { headers: { cookie: session.cookie } });
    expect(after.status).toBe(401);
    expect(errorOf(after)).toMatchObject({ code: 'invalid_session', field: 'cookie' });
    expect((await touchThreshold({ cookie: session.cookie, 'x-csrf-token': session.body.csrf_token })).status).toBe(401);
  });

  it('is refused once past CONSOLE_SESSION_TTL', async () => {
    const session = await logIn(operatorToken);
    clockOffsetMs = ttlMs - 1_000;
    try {
      expect((await api.fetch('/api/session', { headers: { cookie: session.cookie } })).status).toBe(200);
      clockOffsetMs = ttlMs + 1_000;
      const expired = await api.fetch('/api/session', { headers: { cookie: session.cookie } });
      expect(expired.status).toBe(401);
      expect(errorOf(expired)).toMatchObject({ code: 'invalid_session' });
      expect((await api.fetch('/api/clients?limit=1', { headers: { cookie: session.cookie } })).status).toBe(401);
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe('a viewer', () => {
  it('reads, with the cookie or its bearer token, and may not act with either', async () => {
    const session = await logIn(viewerToken);
    expect(session.body).toMatchObject({ actor: 'viewer', role: 'viewer' });
    expect((await api.fetch('/api/config/micro-batch-threshold', { headers: { cookie: session.cookie } })).status).toBe(200);
    expect((await api.fetch('/api/config/micro-batch-threshold', { headers: { authorization: `Bearer ${viewerToken}` } })).status).toBe(200);

    for (const headers of [{ cookie: session.cookie, 'x-csrf-token': session.body.csrf_token }, { authorization: `Bearer ${viewerToken}` }]) {
      const refused = await touchThreshold(headers);
      expect(refused.status).toBe(403);
      expect(errorOf(refused)).toMatchObject({ code: 'forbidden', field: 'role', rule: 'operator' });
    }
    expect((await api.fetch('/api/session', { method: 'DELETE', headers: { cookie: session.cookie, 'x-csrf-token': session.body.csrf_token } })).status).toBe(204);
  });
});

describe('the audit', () => {
  it('records every non-GET request, allowed or refused, with its actor, role and status, newest first', async () => {
    const viewer = await logIn(viewerToken);
    const mark = randomUUID();
    const correlation = (step: string): string => `${mark}-${step}`;
    await touchThreshold({ authorization: `Bearer ${operatorToken}`, 'x-correlation-id': correlation('operator') });
    await touchThreshold({ cookie: viewer.cookie, 'x-csrf-token': viewer.body.csrf_token, 'x-correlation-id': correlation('viewer') });
    await touchThreshold({ authorization: 'Bearer wrong-token-0123456789abcdef', 'x-correlation-id': correlation('nobody') });
    await api.fetch('/api/session', { method: 'POST', headers: { ...json, 'x-correlation-id': correlation('login') }, body: JSON.stringify({ token: 'not-a-token' }) });
    await api.fetch('/api/config/micro-batch-threshold', { headers: { authorization: `Bearer ${operatorToken}`, 'x-correlation-id': correlation('read') } });

    const bearer = { authorization: `Bearer ${operatorToken}` };
    const ours = await eventually(async () => {
      const page = await api.fetch('/api/audit?limit=200', { headers: bearer });
      expect(page.status).toBe(200);
      const items = (page.body as { items: AuditListItem[] }).items.filter((item) => item.correlation_id.startsWith(mark));
      expect(items).toHaveLength(4);
      return items;
    });
    const path = '/api/config/micro-batch-threshold';
    expect(ours.map(({ actor, role, method, path: itemPath, status, correlation_id }) => ({ actor, role, method, path: itemPath, status, correlation_id }))).toEqual([
      { actor: null, role: null, method: 'POST', path: '/api/session', status: 401, correlation_id: correlation('login') },
      { actor: null, role: null, method: 'PUT', path, status: 401, correlation_id: correlation('nobody') },
      { actor: 'viewer', role: 'viewer', method: 'PUT', path, status: 403, correlation_id: correlation('viewer') },
      { actor: 'admin', role: 'operator', method: 'PUT', path, status: 200, correlation_id: correlation('operator') },
    ]);

    // By actor, page by page: the viewer's rows, newest first, none repeated.
    const seen: AuditListItem[] = [];
    let cursor: string | null = null;
    do {
      const page: CheckedResponse = await api.fetch(`/api/audit?actor=viewer&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`, { headers: bearer });
      const body = page.body as { items: AuditListItem[]; next_cursor: string | null };
      seen.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor !== null);
    expect(seen.every((item) => item.actor === 'viewer')).toBe(true);
    expect(new Set(seen.map((item) => item.id)).size).toBe(seen.length);
    expect(seen.map((item) => BigInt(item.id))).toEqual([...seen.map((item) => BigInt(item.id))].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)));
    expect(seen.some((item) => item.correlation_id === correlation('viewer'))).toBe(true);
  });
});

describe('another admin instance', () => {
  it("serves the first one's sessions from PostgreSQL, and refuses a session whose token it does not have", async () => {
    const operator = await logIn(operatorToken);
    const viewer = await logIn(viewerToken);
    const second = await startAdmin({
      config: { ...config, ADMIN_VIEWER_TOKEN: undefined },
      endpoints,
      port: 0,
      log: createLogger({ name: 'console-access-test-2', level: 'silent' }),
      cooldownSweepIntervalMs: 0,
      livenessCheckIntervalMs: 0,
      consumerLagIntervalMs: 0,
    });
    try {
      const other = await openContractClient(second.url);
      expect(await other.fetch('/api/session', { headers: { cookie: operator.cookie } })).toMatchObject({ status: 200, body: operator.body });
      const refused = await other.fetch('/api/session', { headers: { cookie: viewer.cookie } });
      expect(refused.status).toBe(401);
      expect(errorOf(refused)).toMatchObject({ code: 'invalid_session' });
    } finally {
      await second.stop();
    }
  });
});

describe('bad requests', () => {
  it.each([
    ['no body', '', 'token'],
    ['malformed JSON', '{"token":', 'token'],
    ['no token', '{}', 'token'],
    ['a token that is not a string', '{"token":42}', 'token'],
    ['an unknown field', '{"token":"x","remember":true}', 'remember'],
  ])('a log-in with %s is 400 naming %s', async (_name, body, field) => {
    const answer = await api.fetch('/api/session', { method: 'POST', headers: json, body });
    expect(answer.status).toBe(400);
    expect(errorOf(answer)).toMatchObject({ code: 'invalid_body', field });
  });

  it('a log-in with a wrong token is 401 invalid_token', async () => {
    const answer = await api.fetch('/api/session', { method: 'POST', headers: json, body: JSON.stringify({ token: 'wrong-token-0123456789abcdef' }) });
    expect(answer.status).toBe(401);
    expect(errorOf(answer)).toMatchObject({ code: 'invalid_token', field: 'token' });
  });

  it('GET /api/session with a bearer token only is 401 (there is no session to give back)', async () => {
    expect((await api.fetch('/api/session', { headers: { authorization: `Bearer ${operatorToken}` } })).status).toBe(401);
  });

  it.each([
    ['limit=0', 'limit'],
    ['actor=bad%3Aname', 'actor'],
    ['cursor=not-a-cursor', 'cursor'],
    ['since=yesterday', 'since'],
  ])('GET /api/audit?%s is 400 naming %s', async (query, field) => {
    const answer = await api.fetch(`/api/audit?${query}`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(answer.status).toBe(400);
    expect(errorOf(answer).field).toBe(field);
  });
});
