// Proves the ChangeNow client against the real simulator of the test stack: range, estimate, create,
// by-id and list by userId with exact amounts; 429, 5xx and slow-answer bursts ridden out; the retry
// budget ending in ChangeNowUnavailableError; an exchange creation whose answer is lost reported as
// unclear (and the exchange then found by userId, created once); rejections with ChangeNow's code;
// one rate limit shared by clients; and the API key in no error, log line or metric.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Decimal } from '../../core/money.ts';
import { freshAddress } from '../../test/support/local-evm.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { injectFault, localChangeNowApiKey, resetSimulator, setPairRange, simulatorExchanges, simulatorUrl } from '../../test/support/changenow-simulator.ts';
import { assertWithinRange, createChangeNowClient, type ChangeNowClient, type ChangeNowClientOptions, type CurrencyPair } from './changenow-client.ts';
import {
  ChangeNowRejectedError,
  ChangeNowUnavailableError,
  ExchangeAmountOutOfRangeError,
  ExchangeOutcomeUnclearError,
} from './changenow-errors.ts';

const ethToUsdt: CurrencyPair = { fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' };
const usdtToXmr: CurrencyPair = { fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'xmr', toNetwork: 'xmr' };
const wrongApiKey = 'wrong-changenow-key-8f3a1c9e5b7d';

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});
const log = pino({ level: 'trace' }, logStream);
const metrics = new Registry();
const db = await openTestDatabase();
afterAll(() => db.end());
/** Every error a test saw, checked at the end for the API key. */
const thrownErrors: unknown[] = [];

function clientWith(overrides: Partial<ChangeNowClientOptions> = {}): ChangeNowClient {
  return createChangeNowClient({
    baseUrl: simulatorUrl(),
    apiKey: localChangeNowApiKey,
    // One budget per API key in the database: every client of one key must agree on the rate.
    rateLimitPerSecond: 10,
    db,
    requestTimeoutMs: 1_000,
    retryBudgetMs: 15_000,
    retryDelayInitialMs: 50,
    retryDelayMaxMs: 400,
    log,
    metrics,
    ...overrides,
  });
}

const client = clientWith();

async function failureOf(action: Promise<unknown>): Promise<unknown> {
  const error = await action.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (failure: unknown) => failure,
  );
  thrownErrors.push(error);
  return error;
}

async function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.filter((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected)).reduce((sum, value) => sum + value.value, 0);
}

function createRequest(userId = `command-${randomUUID()}`) {
  return { ...ethToUsdt, fromAmount: new Decimal('0.0123456789'), address: freshAddress(), userId, payload: { commandId: userId } };
}

afterEach(async () => {
  await resetSimulator();
});

afterAll(async () => {
  await resetSimulator();
});

describe('ChangeNow client against the simulator', () => {
  it('reads the range and minimum of a pair, and the range check rejects amounts outside it', async () => {
    const range = await client.range(ethToUsdt);
    expect(range.minAmount.toFixed()).toBe('0.001');
    expect(range.maxAmount?.toFixed()).toBe('100');
    expect((await client.minAmount(ethToUsdt)).toFixed()).toBe('0.001');
    expect(() => assertWithinRange(range, new Decimal('0.000999999999999999'))).toThrow(ExchangeAmountOutOfRangeError);
    expect(() => assertWithinRange(range, new Decimal('100.000000000000000001'))).toThrow(ExchangeAmountOutOfRangeError);
    expect(() => assertWithinRange(range, new Decimal('0.001'))).not.toThrow();

    await setPairRange({ ...usdtToXmr, minAmount: new Decimal('12.345678'), maxAmount: null });
    const overridden = await client.range(usdtToXmr);
    expect(overridden.minAmount.toFixed()).toBe('12.345678');
    expect(overridden.maxAmount).toBeNull();
  });

  it('estimates an exchange with exact amounts, net of the fee and the withdrawal fee', async () => {
    const estimate = await client.estimate({ ...ethToUsdt, fromAmount: new Decimal('0.0123456789') });
    expect(estimate.fromAmount.toFixed()).toBe('0.0123456789');
    // The simulator's defaults: 3000 USD per ETH, a 0.5 % fee, 0.5 USDT withdrawal fee, 6 decimals:
    // 0.0123456789 × 3000 × 0.995 − 0.5 = 36.3518515165, rounded down to 36.351851.
    expect(estimate.toAmount.toFixed()).toBe('36.351851');
    expect(estimate.withdrawalFee.toFixed()).toBe('0.5');
    expect(estimate.depositFee.isZero()).toBe(true);

    const precise = await client.estimate({ ...ethToUsdt, fromAmount: new Decimal('1.123456789012345678') });
    expect(precise.fromAmount.toFixed()).toBe('1.123456789012345678');
  });

  it('creates an exchange and reads it back by id, amounts exact and the command id attached', async () => {
    const request = createRequest();
    const created = await client.createExchange(request);
    expect(created.fromAmount.toFixed()).toBe('0.0123456789');
    expect(created.toAmount.toFixed()).toBe('36.351851');
    expect(created.payoutAddress.toLowerCase()).toBe(request.address.toLowerCase());
    expect(created.payinAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);

    const exchange = await client.getExchange(created.id);
    expect(exchange).toMatchObject({ id: created.id, payinAddress: created.payinAddress, userId: request.userId, payload: { commandId: request.userId } });
    expect(['new', 'waiting']).toContain(exchange.status);
    expect(exchange.expectedAmountFrom?.toFixed()).toBe('0.0123456789');
    expect(exchange.amountFrom).toBeNull();
    expect(exchange.payoutHash).toBeNull();
  });

  it('finds the exchanges of one userId, and none for an unknown one', async () => {
    const firstRequest = createRequest();
    const first = await client.createExchange(firstRequest);
    const second = await client.createExchange(createRequest());
    const found = await client.findExchangesByUserId(firstRequest.userId);
    expect(found.map((exchange) => exchange.id)).toEqual([first.id]);
    expect(found.map((exchange) => exchange.id)).not.toContain(second.id);
    expect(await client.findExchangesByUserId(`command-${randomUUID()}`)).toEqual([]);
  });

  it('rides out a burst of 429s, waiting the Retry-After each time', async () => {
    const retriesBefore = await counterValue('changenow_retries_total', { reason: 'rate_limited' });
    await injectFault({ status: 429, count: 3 });
    const startedAtMs = performance.now();
    const range = await client.range(ethToUsdt);
    expect(range.minAmount.toFixed()).toBe('0.001');
    // The simulator asks for Retry-After: 1 (second) on every 429.
    expect(performance.now() - startedAtMs).toBeGreaterThanOrEqual(3_000);
    expect((await counterValue('changenow_retries_total', { reason: 'rate_limited' })) - retriesBefore).toBe(3);
  }, 30_000);

  it('rides out a burst of 5xx answers', async () => {
    const created = await client.createExchange(createRequest());
    const retriesBefore = await counterValue('changenow_retries_total', { reason: 'server_error' });
    await injectFault({ status: 503, count: 2 });
    await injectFault({ status: 500, count: 2 });
    expect((await client.getExchange(created.id)).id).toBe(created.id);
    expect((await counterValue('changenow_retries_total', { reason: 'server_error' })) - retriesBefore).toBe(4);
  });

  it('abandons answers slower than the per-attempt timeout and tries again', async () => {
    const retriesBefore = await counterValue('changenow_retries_total', { reason: 'timeout' });
    await injectFault({ delayMs: 2_500, count: 2 });
    const estimate = await client.estimate({ ...ethToUsdt, fromAmount: new Decimal('0.0123456789') });
    expect(estimate.toAmount.toFixed()).toBe('36.351851');
    expect((await counterValue('changenow_retries_total', { reason: 'timeout' })) - retriesBefore).toBe(2);
  }, 30_000);

  it('gives up when the retry budget is spent, with the last reason', async () => {
    const impatient = clientWith({ retryBudgetMs: 1_500 });
    await injectFault({ status: 500, count: 1_000, path: '/v2/exchange/range' });
    const startedAtMs = performance.now();
    const error = await failureOf(impatient.range(ethToUsdt));
    const elapsedMs = performance.now() - startedAtMs;
    expect(error).toBeInstanceOf(ChangeNowUnavailableError);
    const unavailable = error as ChangeNowUnavailableError;
    expect(unavailable.lastReason).toBe('server_error');
    expect(unavailable.attempts).toBeGreaterThan(1);
    expect(unavailable.message).toContain('HTTP 500');
    // The budget bounds when the last attempt starts; that attempt has its own timeout.
    expect(elapsedMs).toBeLessThan(1_500 + 1_000 + 500);
  }, 30_000);

  it('reports an exchange creation whose answer never came as unclear, and the exchange is found by userId', async () => {
    const request = createRequest();
    await injectFault({ kind: 'timeout-after-create', count: 1, hangMs: 5_000 });
    const error = await failureOf(client.createExchange(request));
    expect(error).toBeInstanceOf(ExchangeOutcomeUnclearError);
    expect((error as ExchangeOutcomeUnclearError).userId).toBe(request.userId);

    const found = await client.findExchangesByUserId(request.userId);
    expect(found).toHaveLength(1);
    expect(found[0]?.payoutAddress.toLowerCase()).toBe(request.address.toLowerCase());
    // The client never sent the creation twice.
    expect(await simulatorExchanges(request.userId)).toHaveLength(1);
  }, 30_000);

  it('treats a 5xx on creation as unclear and never sends it again', async () => {
    const request = createRequest();
    await injectFault({ status: 502, count: 1, path: '/v2/exchange' });
    const error = await failureOf(client.createExchange(request));
    expect(error).toBeInstanceOf(ExchangeOutcomeUnclearError);
    // The simulator's 5xx came before it created anything, and the client did not try again.
    expect(await client.findExchangesByUserId(request.userId)).toEqual([]);
  });

  it('retries a creation turned away with 429, creating exactly one exchange', async () => {
    const request = createRequest();
    await injectFault({ status: 429, count: 2, path: '/v2/exchange' });
    const created = await client.createExchange(request);
    const records = await simulatorExchanges(request.userId);
    expect(records.map((record) => record.id)).toEqual([created.id]);
  }, 30_000);

  it('reports ChangeNow rejections with their code and status, without retrying', async () => {
    const retriesBefore = await counterValue('changenow_retries_total', {});
    const rejectedBefore = await counterValue('changenow_requests_total', { outcome: 'rejected' });
    // Below the pair's minimum, sent without the range check to see ChangeNow's own answer.
    const belowMinimum = await failureOf(client.createExchange({ ...createRequest(), fromAmount: new Decimal('0.0001') }));
    expect(belowMinimum).toBeInstanceOf(ChangeNowRejectedError);
    expect(belowMinimum).toMatchObject({ httpStatus: 400, code: 'deposit_too_small' });

    const unknown = await failureOf(client.getExchange('no-such-exchange'));
    expect(unknown).toBeInstanceOf(ChangeNowRejectedError);
    expect(unknown).toMatchObject({ httpStatus: 404, code: 'not_found' });
    expect(await counterValue('changenow_requests_total', { outcome: 'rejected' })).toBe(rejectedBefore + 2);
    expect(await counterValue('changenow_retries_total', {})).toBe(retriesBefore);
  });

  it('answers 401 for a wrong key, and the key appears in no error', async () => {
    const wrongKeyClient = clientWith({ apiKey: wrongApiKey });
    const error = await failureOf(wrongKeyClient.range(ethToUsdt));
    expect(error).toBeInstanceOf(ChangeNowRejectedError);
    expect(error).toMatchObject({ httpStatus: 401, code: 'unauthorized' });
    expect(inspect(error, { depth: 20, showHidden: true })).not.toContain(wrongApiKey);
  });

  it('never writes the API key into a log line, an error or a metric', async () => {
    // Its own failures of every kind, so this test stands alone; earlier tests' add to what is checked.
    await failureOf(clientWith({ apiKey: wrongApiKey }).getExchange('no-such-exchange'));
    await injectFault({ status: 503, count: 1 });
    await injectFault({ kind: 'timeout-after-create', count: 1, hangMs: 3_000 });
    await failureOf(client.createExchange(createRequest()));
    await injectFault({ status: 500, count: 1_000, path: '/v2/exchange/by-id' });
    await failureOf(clientWith({ retryBudgetMs: 300 }).getExchange('no-such-exchange'));
    expect(thrownErrors.length).toBeGreaterThanOrEqual(3);
    expect(logLines.some((line) => line.includes('retrying'))).toBe(true);
    const everything = [
      ...logLines,
      ...thrownErrors.map((error) => `${inspect(error, { depth: 20, showHidden: true })}\n${JSON.stringify(error)}`),
      await metrics.metrics(),
    ].join('\n');
    expect(everything).not.toContain(localChangeNowApiKey);
    expect(everything).not.toContain(wrongApiKey);
  }, 30_000);
});
