// The operator console in real headless Chromium (Debian's `chromium` package, driven by
// playwright-core, which never downloads a browser) against the whole pipeline as processes. It
// covers issue 12's list: log in; a payment sent to the webhook appears on the overview and then on
// its client's page; "pay now" leads to a payout shown as paid with its transaction; a dead letter
// replayed from the console; an offset reset previewed and then confirmed; a failed batch retried;
// a viewer cannot act. Every page visited passes axe-core with no violation and logs no console
// error, and its screenshot is written to .cache/console-screenshots/.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Decimal } from '../core/money.ts';
import { deadLetterTopicOf, topicNames } from '../topics/topics.ts';
import { formatOrderId } from '../processors/webhook/order-id.ts';
import { createAvroSerde, createSchemaRegistryClient, schemaRegistryAccessOf } from '../schemas/registry.ts';
import { createIdempotentProducer, createKafkaClient } from '../core/kafka/kafka-client.ts';
import { createLogger } from '../core/logger.ts';
import { planOutcome } from './support/changenow-simulator.ts';
import { skipGroupToLatest, withKafkaAdmin } from './support/consumer-groups.ts';
import { eventually } from './support/eventually.ts';
import { finishedIpn, jsonNumber, postIpn, uniqueClientId, uniquePaymentId } from './support/ipn.ts';
import { freshAddress } from './support/local-evm.ts';
import { paymentReceivedRecord } from './support/payment-record.ts';
import { startProcessorProcess, testAdminToken, type ProcessorProcess } from './support/processor-process.ts';
import { pipelineProcessorPorts, skipEarlierCommands, wholePipelineEnvironment, type PipelineProcessorName } from './support/whole-pipeline.ts';

const run = promisify(execFile);
const endpoints = inject('endpoints');
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const screenshots = '.cache/console-screenshots';
const viewerToken = 'test-viewer-token-0123456789abcdef';
const ethUsd = new Decimal('3000');
const explorer = 'https://explorer.invalid/tx/{tx}';

const processes: ProcessorProcess[] = [];
let adminUrl = '';
let webhookUrl = '';
let browser: Browser;
let operator: BrowserContext;
let page: Page;

/** Console errors of every page, checked after each visit. */
const consoleErrors: string[] = [];

function watch(target: Page): Page {
  target.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Before signing in the console asks GET /api/session whether its cookie still holds a
    // session; the 401 that answers "no" is the expected answer, which Chromium logs as a failed load.
    if (/status of 401/.test(message.text()) && message.location().url.endsWith('/api/session')) return;
    consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  target.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  return target;
}

let axeSource = '';

interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core on the page as it stands, no console error since the last check, and its screenshot. */
async function checkPage(target: Page, name: string): Promise<void> {
  // axe is loaded as a same-origin script (served by the test's route, see newContext), so the
  // console's CSP, which forbids inline scripts and eval, stays on while the test runs.
  await target.addScriptTag({ url: axeScriptPath });
  const violations = await target.evaluate(async () => {
    const page = globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: AxeViolation[] }> }; document: unknown };
    const result = await page.axe.run(page.document, { resultTypes: ['violations'] });
    return result.violations.map((violation) => ({ id: violation.id, help: violation.help, nodes: violation.nodes.map((node) => node.target.join(' ')) }));
  });
  const errors = consoleErrors.splice(0);
  expect(violations, `${name}: axe violations`).toEqual([]);
  expect(errors, `${name}: console errors`).toEqual([]);
  await target.screenshot({ path: `${screenshots}/${name}.png`, fullPage: true });
}

const axeScriptPath = '/console/assets/axe-core-for-the-test.js';

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route(`**${axeScriptPath}`, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: axeSource }));
  return context;
}

async function admin(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${testAdminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function start(name: PipelineProcessorName, extra: Record<string, string> = {}): Promise<ProcessorProcess> {
  const started = await startProcessorProcess(name, pipelineProcessorPorts[name], { environment: { ...wholePipelineEnvironment, ...extra }, readyTimeoutMs: 120_000 });
  processes.push(started);
  return started;
}

async function pay(clientId: string, usd: string, index: number): Promise<void> {
  const eth = new Decimal(usd).dividedBy(ethUsd).toDecimalPlaces(12, Decimal.ROUND_DOWN).toFixed();
  const ipn = finishedIpn({
    order_id: formatOrderId({ clientId, userId: String(8_000 + index), subscriptionId: String(index) }),
    price_amount: jsonNumber(usd),
    pay_amount: jsonNumber(eth),
    actually_paid: jsonNumber(eth),
    outcome_amount: jsonNumber(eth),
  });
  expect((await postIpn(webhookUrl, ipn)).status).toBe(202);
}

async function signIn(target: Page, token: string): Promise<void> {
  await target.goto(`${adminUrl}/console/`);
  await target.getByLabel('Admin token').fill(token);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

/** Reloads until `ready` finds what it waits for (the list pages are not live). */
async function reloadUntil(target: Page, ready: () => Promise<unknown>, timeoutMs = 90_000): Promise<void> {
  await eventually(
    async () => {
      await target.reload();
      await ready();
    },
    { timeoutMs, intervalMs: 500 },
  );
}

// Two clients whose payments share one $20 micro-batch: A is paid in USDT on chain; B's payout
// exchange is planned to fail in the ChangeNow simulator, so its batch is there to be retried.
const clientA = uniqueClientId();
const clientB = uniqueClientId();
const walletB = freshAddress();
let batchA = '';
let batchB = '';

beforeAll(async () => {
  axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await mkdir(screenshots, { recursive: true });
  // The console this file tests is the one the sources build now.
  await run('npx', ['vite', 'build', 'console', '--logLevel', 'warn']);
  await skipEarlierCommands(endpoints);
  const [admin0, webhook] = await Promise.all([
    start('admin', { ADMIN_VIEWER_TOKEN: viewerToken, CONSOLE_EXPLORER_TX_URL: explorer, CONSOLE_EVENTS_INTERVAL: '500ms' }),
    start('webhook'),
    start('router'),
    start('accumulator'),
    start('changenow'),
    start('chain'),
    // No automatic retry within this file: the failed batch waits for the operator's.
    start('settlement', { PAYOUT_RETRY_BACKOFF: '1h' }),
  ]);
  adminUrl = admin0.url;
  webhookUrl = webhook.url;
  expect((await admin('PUT', '/api/config/micro-batch-threshold', { value: '20' })).status).toBe(200);
  expect((await admin('PUT', `/api/clients/${clientA}`, { strategy: 'threshold', threshold_usd: '50', wallet_address: freshAddress(), payout_currency: 'usdt', payout_network: 'eth' })).status).toBe(201);
  expect((await admin('PUT', `/api/clients/${clientB}`, { strategy: 'threshold', threshold_usd: '50', wallet_address: walletB, payout_currency: 'eth', payout_network: 'eth' })).status).toBe(201);
  await planOutcome({ match: { payoutAddress: walletB }, outcome: 'failed', reason: 'simulated: payout flagged by compliance' });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  operator = await newContext();
  page = watch(await operator.newPage());
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(processes.map((process) => process.terminate()));
});

describe('the console', () => {
  it('signs an operator in', async () => {
    await page.goto(`${adminUrl}/console/`);
    await page.getByLabel('Admin token').waitFor();
    await checkPage(page, 'login');
    await page.getByLabel('Admin token').fill('not-the-token-0123456789abcdef');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    consoleErrors.splice(0); // the refused sign-in's 401, asked for
    await page.getByLabel('Admin token').fill(testAdminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.getByText('admin (operator)').isVisible()).toBe(true);
  });

  it('shows a payment sent to the webhook on the overview, then on its client page', async () => {
    await page.locator('#volume-payments').waitFor();
    const before = Number(await page.locator('#volume-payments').textContent());
    await pay(clientA, '12', 1);
    await pay(clientB, '12', 2);
    // Live: the overview's event stream brings the new figure without a reload.
    await page.waitForFunction(
      (count) => Number((globalThis as unknown as { document: { querySelector: (selector: string) => { textContent: string | null } | null } }).document.querySelector('#volume-payments')?.textContent) >= count,
      before + 2,
      { timeout: 60_000 },
    );
    await checkPage(page, 'overview');

    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByLabel('Client id starts with').fill(clientA);
    await page.getByRole('link', { name: clientA, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: `Client ${clientA}` }).waitFor();
    // Converted and credited: the unpaid USDT the payment became, below the client's $50 threshold.
    await reloadUntil(page, () => page.getByRole('cell', { name: 'below_threshold' }).first().waitFor({ timeout: 1_000 }));
    await checkPage(page, 'client');
  });

  it('pays a client now and shows the payout as paid with its transaction', async () => {
    await page.getByRole('button', { name: 'Pay now' }).click();
    await page.getByRole('status').waitFor();
    const payouts = page.getByRole('table', { name: 'Payout batches' });
    await reloadUntil(page, () => payouts.getByRole('cell', { name: 'finished' }).waitFor({ timeout: 1_000 }));
    batchA = (await payouts.getByRole('link').first().textContent()) ?? '';
    await payouts.getByRole('link', { name: batchA }).click();
    await page.locator('#batch-state').getByText('finished').waitFor();
    const tx = page.locator('#payout-tx a');
    expect(await tx.getAttribute('href')).toMatch(/^https:\/\/explorer\.invalid\/tx\/0x[0-9a-f]{64}$/);
    await checkPage(page, 'payout-batch');
  });

  it('retries a failed batch', async () => {
    expect((await admin('POST', `/api/clients/${clientB}/payouts`)).status).toBe(202);
    await page.getByRole('link', { name: 'Payout batches' }).click();
    await page.locator('select[name=state]').selectOption('failed');
    await page.getByLabel('Client id', { exact: true }).fill(clientB);
    const table = page.getByRole('table', { name: 'Payout batches' });
    await reloadUntil(page, async () => {
      await page.locator('select[name=state]').selectOption('failed');
      await page.getByLabel('Client id', { exact: true }).fill(clientB);
      await table.getByRole('cell', { name: 'failed', exact: true }).waitFor({ timeout: 2_000 });
    });
    await checkPage(page, 'payout-batches');
    batchB = (await table.getByRole('link').first().textContent()) ?? '';
    await table.getByRole('link', { name: batchB }).click();
    await page.getByRole('button', { name: 'Retry this payout' }).click();
    await page.getByRole('status').getByText('Retry retry requested').waitFor();
    // Settlement schedules the retry: a second batch joins the retry chain.
    await reloadUntil(page, () => page.getByRole('list', { name: 'Retry chain' }).getByRole('listitem').nth(1).waitFor({ timeout: 1_000 }));
    await checkPage(page, 'payout-batch-retried');
  });

  it('replays a dead letter from the console', async () => {
    const clientId = uniqueClientId();
    const log = createLogger({ name: 'console-test', level: 'silent' });
    const serde = createAvroSerde(createSchemaRegistryClient(schemaRegistryAccessOf(endpoints)));
    const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'console-test', log, requestTimeoutMs: 10_000 });
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    await producer.send({
      topic: deadLetterTopicOf(topicNames.paymentsReceived),
      acks: -1,
      messages: [{ key: clientId, value: await serde.encode(topicNames.paymentsReceived, 'payment-received', paymentReceivedRecord(uniquePaymentId(), clientId)), headers: { 'dlq-reason': 'console test', 'dlq-rule': 'replay from the console' } }],
    });
    await producer.disconnect();

    await page.getByRole('link', { name: 'Operations' }).click();
    await page.locator('select[name=dead-letter-topic]').selectOption(deadLetterTopicOf(topicNames.paymentsReceived));
    const row = page.getByRole('row').filter({ hasText: clientId });
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: /Replay selected/ }).click();
    await page.getByRole('status').getByText('Replay done: 1 of 1').waitFor({ timeout: 30_000 });
    // The router dead-letters the replayed copy again (its client is unknown): the original is marked replayed.
    await page.getByRole('row').filter({ hasText: clientId }).first().getByRole('cell', { name: 'yes', exact: true }).waitFor();
    await checkPage(page, 'operations');
  });

  it('previews an offset reset, then confirms it', async () => {
    // A group of its own with no live member, committed at the end of the topic.
    const group = `console-e2e-${randomUUID()}`;
    await skipGroupToLatest(endpoints, group, [topicNames.paymentsReceived]);
    await page.reload();
    await page.locator('select[name=reset-group]').selectOption(group);
    await page.locator('select[name=reset-topic]').selectOption(topicNames.paymentsReceived);
    await page.locator('select[name=reset-to]').selectOption('earliest');
    await page.getByRole('button', { name: 'Preview (dry run)' }).click();
    await page.getByRole('table', { name: 'Offset reset plan' }).waitFor();
    await checkPage(page, 'offset-reset-preview');
    await page.getByRole('button', { name: 'Confirm reset' }).click();
    await page.getByRole('table', { name: 'Offset reset applied' }).waitFor();
    const committed = await withKafkaAdmin(endpoints, (kafkaAdmin) => kafkaAdmin.fetchOffsets({ groupId: group, topics: [topicNames.paymentsReceived] }));
    const lows = await withKafkaAdmin(endpoints, (kafkaAdmin) => kafkaAdmin.fetchTopicOffsets(topicNames.paymentsReceived));
    for (const partition of committed[0]?.partitions ?? []) {
      expect(partition.offset).toBe(lows.find((low) => low.partition === partition.partition)?.low);
    }
  });

  it('shows the conversions list', async () => {
    await page.getByRole('link', { name: 'Conversions' }).click();
    await page.getByRole('table', { name: 'Conversions' }).getByRole('cell', { name: 'finished' }).first().waitFor();
    await checkPage(page, 'conversions');
  });

  it('lets a viewer look but not act', async () => {
    const viewer = await newContext();
    const viewerPage = watch(await viewer.newPage());
    await signIn(viewerPage, viewerToken);
    expect(await viewerPage.getByText('(viewer)').isVisible()).toBe(true);
    await viewerPage.goto(`${adminUrl}/console/clients/${clientA}`);
    await viewerPage.getByText('Read-only: you are signed in as a viewer.').waitFor();
    expect(await viewerPage.getByRole('button', { name: 'Pay now' }).count()).toBe(0);
    await checkPage(viewerPage, 'client-viewer');
    await viewerPage.goto(`${adminUrl}/console/payout-batches/${batchB}`);
    await viewerPage.getByRole('heading', { level: 2, name: batchB }).waitFor();
    expect(await viewerPage.getByRole('button', { name: 'Retry this payout' }).count()).toBe(0);
    await viewerPage.goto(`${adminUrl}/console/operations`);
    await viewerPage.getByRole('heading', { level: 2, name: 'Dead letters' }).waitFor();
    expect(await viewerPage.getByRole('button').filter({ hasText: /Replay|Preview|Confirm|Change/ }).count()).toBe(0);
    // And the server refuses a viewer's action whatever the page shows.
    const session = (await (await viewerPage.request.get(`${adminUrl}/api/session`)).json()) as { csrf_token: string };
    const refused = await viewerPage.request.post(`${adminUrl}/api/clients/${clientA}/payouts`, { headers: { 'x-csrf-token': session.csrf_token } });
    expect(refused.status()).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'forbidden', field: 'role' } });
    await viewer.close();
  });
});
