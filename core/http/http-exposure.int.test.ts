// Proves what every process shows to the network, with the real webhook, admin API and router on
// the real stack: a per-source limit answers 429 with Retry-After and a JSON body (health, ready
// and metrics never limited), the default limit lets 1,000 IPNs/s through, servers bind only the
// configured interface, the webhook can move /metrics to an internal port, no express app says
// x-powered-by, and a request Node cannot parse still gets a JSON answer.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, type Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { findFreePort } from '../../test/support/free-port.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { testIpnSecret } from '../../test/support/ipn.ts';
import { rawRequest } from '../../test/support/raw-http.ts';
import { startWebhook, type RunningWebhook } from '../../processors/webhook/start-webhook.ts';
import { startAdmin, type RunningAdmin } from '../../processors/admin/start-admin.ts';
import { startRouter } from '../../processors/router/start-router.ts';
import type { RunningConsumerProcess } from '../processing/consumer-process.ts';

const endpoints = inject('endpoints');
const silent = createLogger({ name: 'exposure-test', level: 'silent' });
const adminToken = 'test-admin-token-0123456789abcdef';
const limitPerMinute = 5;

function configWith(extra: Record<string, string>): Config {
  return loadConfig({ ...testStackEnvironment(process.env), NOWPAYMENTS_IPN_SECRET: testIpnSecret, ADMIN_TOKEN: adminToken, ...extra });
}

let webhook: RunningWebhook;
let admin: RunningAdmin;
let router: RunningConsumerProcess;
let webhookMetricsPort: number;

beforeAll(async () => {
  webhookMetricsPort = await findFreePort();
  webhook = await startWebhook({
    config: configWith({ WEBHOOK_RATE_LIMIT_PER_MINUTE: String(limitPerMinute), WEBHOOK_METRICS_PORT: String(webhookMetricsPort) }),
    endpoints,
    port: 0,
    log: silent,
  });
  admin = await startAdmin({ config: configWith({ ADMIN_RATE_LIMIT_PER_MINUTE: String(limitPerMinute) }), endpoints, port: 0, log: silent, cooldownSweepIntervalMs: 0 });
  router = await startRouter({ config: configWith({}), endpoints, port: 0, log: silent });
});

afterAll(async () => {
  await router?.stop();
  await admin?.stop();
  await webhook?.stop();
});

describe('per-source rate limits', () => {
  it.each([
    ['webhook', () => webhook.url, { method: 'POST', path: '/webhooks/nowpayments', headers: { 'content-type': 'application/json' }, body: '{}' }],
    ['admin API', () => admin.url, { method: 'GET', path: '/api/config/micro-batch-threshold', headers: { authorization: `Bearer ${adminToken}` } }],
  ] as const)('the %s answers 429 with Retry-After and a JSON body past its limit, and never limits its probes', async (_name, urlOf, sent) => {
    const url = urlOf();
    for (let index = 0; index < limitPerMinute; index += 1) expect((await rawRequest(url, sent)).status).not.toBe(429);
    const limited = await rawRequest(url, sent);
    expect(limited.status).toBe(429);
    const retryAfterSeconds = Number(limited.headers['retry-after']);
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(JSON.parse(limited.text)).toEqual({
      error: { code: 'rate_limited', field: 'source', rule: `at most ${limitPerMinute} requests per minute`, message: expect.stringContaining('Retry-After') as unknown },
    });
    for (const path of ['/health', '/ready']) expect((await rawRequest(url, { method: 'GET', path })).status).toBe(200);
  });

  it('admin: /metrics stays open while /api is limited', async () => {
    expect((await rawRequest(admin.url, { method: 'GET', path: '/api/config/audit', headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(429);
    expect((await rawRequest(admin.url, { method: 'GET', path: '/metrics' })).status).toBe(200);
  });

  it('lets a load test of 1,000 IPNs per second from one host through by default', () => {
    const defaults = loadConfig({});
    expect(defaults.WEBHOOK_RATE_LIMIT_PER_MINUTE).toBeGreaterThanOrEqual(1_000 * 60);
    expect(defaults.ADMIN_RATE_LIMIT_PER_MINUTE).toBeLessThan(defaults.WEBHOOK_RATE_LIMIT_PER_MINUTE);
  });
});

describe('interfaces and ports', () => {
  it('binds loopback by default, and every server answers there', () => {
    expect(loadConfig({}).LISTEN_HOST).toBe('127.0.0.1');
    for (const url of [webhook.url, admin.url, router.url]) expect(new URL(url).hostname).toBe('127.0.0.1');
  });

  it('serves the webhook’s /metrics on WEBHOOK_METRICS_PORT only, not on its public port', async () => {
    expect((await rawRequest(webhook.url, { method: 'GET', path: '/metrics' })).status).toBe(404);
    const internal = await rawRequest(`http://127.0.0.1:${webhookMetricsPort}`, { method: 'GET', path: '/metrics' });
    expect(internal.status).toBe(200);
    expect(internal.text).toContain('webhook_ipn_total');
    expect((await rawRequest(`http://127.0.0.1:${webhookMetricsPort}`, { method: 'POST', path: '/webhooks/nowpayments', body: '{}' })).status).toBe(404);
  });

  it('refuses a host that is not an address or a name', () => {
    expect(() => loadConfig({ LISTEN_HOST: 'http://0.0.0.0/' })).toThrow(/LISTEN_HOST/);
  });
});

describe('what every process tells a stranger', () => {
  it('never says x-powered-by, and answers an unknown or malformed path with JSON', async () => {
    for (const url of [webhook.url, admin.url, router.url, `http://127.0.0.1:${webhookMetricsPort}`]) {
      for (const path of ['/health', '/no-such-path', '/%ff', '/health/%E0%A4%A']) {
        const answer = await rawRequest(url, { method: 'GET', path });
        expect(answer.headers['x-powered-by'], `${url}${path}`).toBeUndefined();
        expect(answer.status, `${url}${path}`).toBeLessThan(500);
        expect(String(answer.headers['content-type']), `${url}${path}`).toMatch(/^application\/json/);
      }
    }
  });

  it('answers a request Node cannot parse with a JSON 400', async () => {
    const { port } = new URL(admin.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"malformed_request"');
  });
});
