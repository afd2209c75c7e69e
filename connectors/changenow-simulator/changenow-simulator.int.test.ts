// Proves the test stack's ChangeNow simulator keeps the API v2 contract the connector relies on,
// over real HTTP and the real local chain: the API key is required, ranges and estimates follow
// the pricing, an exchange waits for a REAL deposit (sent here with ethers), walks its statuses and
// pays out on chain exactly amountTo (ETH → USDT and USDT → ETH), and faults, failed, refunded
// and verifying exchanges happen on demand.
import { randomUUID } from 'node:crypto';
import { parseEther, parseUnits } from 'ethers';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { Decimal } from '../../core/money.ts';
import { localExchangeWallet, localHostWallet } from '../../stack/evm/local-wallets.ts';
import { quote, resolvePair, type CurrencyPair } from './exchange-quote.ts';
import {
  amountOf,
  callSimulator,
  injectFault,
  planOutcome,
  resetSimulator,
  setPairRange,
  simulatorExchanges,
  waitForExchangeStatus,
  type SimulatorExchange,
} from '../../test/support/changenow-simulator.ts';
import { ethBalanceOf, freshAddress, localEvmProvider, mintUsdt, sendEth, sendUsdt, usdtBalanceOf } from '../../test/support/local-evm.ts';

// The stack's simulator runs with the settings of this environment (test/global-setup.ts).
const config = loadConfig(process.env);
const pricing = { ethUsd: new Decimal(config.SIMULATOR_ETH_USD), feePercent: new Decimal(config.SIMULATOR_FEE_PERCENT) };

const ethToUsdt: CurrencyPair = { fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' };
const usdtToEth: CurrencyPair = { fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'eth', toNetwork: 'eth' };
const usdtToXmr: CurrencyPair = { fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'xmr', toNetwork: 'xmr' };
const xmrAddress = '888tNkZrPN6JsEgekjMnABU4TBzc2Dt29EPAvkRxbANsAnjyPbb3iQ1YBRk1UXcdRsiKc9dhwMVgN5S9cQUiyoogDavup3H';

function pairQuery(pair: CurrencyPair): Record<string, string> {
  return { ...pair, flow: 'standard' };
}

function expectedAmountTo(pair: CurrencyPair, fromAmount: Decimal): Decimal {
  const resolved = resolvePair(pair);
  if ('inactive' in resolved) throw new Error(resolved.inactive);
  return quote(resolved, fromAmount, pricing).toAmount;
}

interface Created {
  readonly id: string;
  readonly payinAddress: string;
  readonly userId: string;
}

async function createExchange(pair: CurrencyPair, fromAmount: Decimal, address: string, extra: Record<string, unknown> = {}): Promise<Created> {
  const userId = `test-${randomUUID()}`;
  const answer = await callSimulator('/v2/exchange', {
    body: { ...pair, fromAmount, address, userId, payload: { commandId: userId }, flow: 'standard', type: 'direct', ...extra },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body['payoutAddress']).toBe(address);
  expect(amountOf(answer.body['fromAmount'])?.toFixed()).toBe(fromAmount.toFixed());
  expect(amountOf(answer.body['toAmount'])?.toFixed()).toBe(expectedAmountTo(pair, fromAmount).toFixed());
  const id = String(answer.body['id']);
  // ChangeNow moves a new exchange to `waiting` on its own; tests pay in from there, so every
  // exchange's history starts the same.
  await waitForExchangeStatus(id, ['waiting']);
  return { id, payinAddress: String(answer.body['payinAddress']), userId };
}

async function exchangeById(id: string): Promise<Record<string, unknown>> {
  const answer = await callSimulator('/v2/exchange/by-id', { query: { id } });
  expect(answer.status).toBe(200);
  return answer.body;
}

async function payoutTransaction(exchange: SimulatorExchange): Promise<{ to: string | null; value: bigint; status: number | null | undefined }> {
  const hash = exchange.payoutHash ?? exchange.refundHash;
  if (hash === null) throw new Error(`exchange ${exchange.id} sent nothing`);
  const [transaction, receipt] = await Promise.all([localEvmProvider().getTransaction(hash), localEvmProvider().getTransactionReceipt(hash)]);
  return { to: transaction?.to ?? null, value: transaction?.value ?? 0n, status: receipt?.status };
}

beforeEach(async () => {
  await resetSimulator();
});

describe('ChangeNow simulator: API key', () => {
  it('answers 401 without the key or with a wrong one, and 200 with it', async () => {
    for (const apiKey of [null, 'wrong-key-0123456789']) {
      const answer = await callSimulator('/v2/exchange/range', { query: pairQuery(ethToUsdt), apiKey });
      expect(answer.status).toBe(401);
      expect(answer.body['error']).toBe('unauthorized');
      expect(JSON.stringify(answer.body)).not.toContain('wrong-key');
    }
    expect((await callSimulator('/v2/exchange/range', { query: pairQuery(ethToUsdt) })).status).toBe(200);
  });
});

describe('ChangeNow simulator: ranges and estimates', () => {
  it('gives the default ranges, overrides them on request and resets them', async () => {
    const range = await callSimulator('/v2/exchange/range', { query: pairQuery(ethToUsdt) });
    expect(range.body).toMatchObject({ ...ethToUsdt, flow: 'standard' });
    expect(amountOf(range.body['minAmount'])?.toFixed()).toBe('0.001');
    expect(amountOf(range.body['maxAmount'])?.toFixed()).toBe('100');

    await setPairRange({ ...usdtToXmr, minAmount: new Decimal('25.5'), maxAmount: null });
    const overridden = await callSimulator('/v2/exchange/range', { query: pairQuery(usdtToXmr) });
    expect(amountOf(overridden.body['minAmount'])?.toFixed()).toBe('25.5');
    expect(overridden.body['maxAmount']).toBeNull();
    const minimum = await callSimulator('/v2/exchange/min-amount', { query: pairQuery(usdtToXmr) });
    expect(amountOf(minimum.body['minAmount'])?.toFixed()).toBe('25.5');

    await resetSimulator();
    const reset = await callSimulator('/v2/exchange/range', { query: pairQuery(usdtToXmr) });
    expect(amountOf(reset.body['minAmount'])?.toFixed()).toBe('10');
    expect(amountOf(reset.body['maxAmount'])?.toFixed()).toBe('20000');
  });

  it('estimates net of the fee and the withdrawal fee, with amounts as exact JSON numbers', async () => {
    const answer = await callSimulator('/v2/exchange/estimated-amount', { query: { ...pairQuery(usdtToEth), fromAmount: '123.456789', type: 'direct' } });
    expect(answer.status).toBe(200);
    const expected = expectedAmountTo(usdtToEth, new Decimal('123.456789'));
    expect(amountOf(answer.body['toAmount'])?.toFixed()).toBe(expected.toFixed());
    expect(amountOf(answer.body['withdrawalFee'])?.toFixed()).toBe('0.0002');
    expect(amountOf(answer.body['depositFee'])?.toFixed()).toBe('0');
    expect(answer.body).toMatchObject({ rateId: null, validUntil: null, warningMessage: null, type: 'direct', flow: 'standard' });
    // 18 decimals survive the wire: the body carries the digits as a JSON number, not a string.
    expect(answer.text).toContain(`"toAmount":${expected.toFixed()}`);
  });

  it('rejects amounts outside the range, unknown pairs and bad parameters with ChangeNow codes', async () => {
    const estimate = (pair: CurrencyPair, fromAmount: string) => callSimulator('/v2/exchange/estimated-amount', { query: { ...pairQuery(pair), fromAmount } });
    expect((await estimate(usdtToXmr, '9.99')).body).toMatchObject({ error: 'deposit_too_small' });
    expect((await estimate(usdtToXmr, '20000.01')).body).toMatchObject({ error: 'out_of_range' });
    expect((await estimate({ ...usdtToXmr, fromCurrency: 'btc', fromNetwork: 'btc' }, '1')).body).toMatchObject({ error: 'pair_is_inactive' });
    const bad = await estimate(usdtToXmr, '-5');
    expect(bad.status).toBe(400);
    expect(bad.body['error']).toBe('not_valid_params');
    const badAddress = await callSimulator('/v2/exchange', { body: { ...ethToUsdt, fromAmount: new Decimal('0.01'), address: '0x1234', flow: 'standard' } });
    expect(badAddress.status).toBe(400);
    expect(badAddress.body['error']).toBe('not_valid_params');
    const unknown = await callSimulator('/v2/exchange/by-id', { query: { id: 'ffffffffffffff' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body['error']).toBe('not_found');
  });
});

describe('ChangeNow simulator: exchanges on the local chain', () => {
  it('ETH → USDT: waits for the real deposit, walks the statuses and pays exactly amountTo in USDT', async () => {
    const payoutAddress = freshAddress();
    const created = await createExchange(ethToUsdt, new Decimal('0.01'), payoutAddress);
    expect(await exchangeById(created.id)).toMatchObject({ status: 'waiting', payinHash: null, amountFrom: null, amountTo: null, userId: created.userId });

    // The real deposit differs from the expected amount: the simulator exchanges what arrived.
    const deposit = await sendEth(localHostWallet, created.payinAddress, parseEther('0.0123'));
    const finished = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);

    expect(finished.statusHistory).toEqual(['new', 'waiting', 'confirming', 'exchanging', 'sending', 'finished']);
    expect(finished.payinHash).toBe(deposit.hash);
    expect(finished.payinSender).toBe(localHostWallet.address);
    expect(finished.amountFrom?.toFixed()).toBe('0.0123');
    const amountTo = expectedAmountTo(ethToUsdt, new Decimal('0.0123'));
    expect(finished.amountTo?.toFixed()).toBe(amountTo.toFixed());
    expect(await usdtBalanceOf(payoutAddress)).toBe(parseUnits(amountTo.toFixed(), 6));
    expect(await payoutTransaction(finished)).toMatchObject({ status: 1 });

    const view = await exchangeById(created.id);
    expect(view).toMatchObject({ id: created.id, status: 'finished', payinHash: deposit.hash, payoutHash: finished.payoutHash, refundHash: null, payload: { commandId: created.userId } });
    expect(amountOf(view['amountTo'])?.toFixed()).toBe(amountTo.toFixed());
    expect(typeof view['depositReceivedAt']).toBe('string');
  }, 60_000);

  it('USDT → ETH: a USDT deposit is seen by its Transfer log and ETH worth amountTo arrives', async () => {
    await mintUsdt(localHostWallet.address, 50_000_000n);
    const payoutAddress = freshAddress();
    const created = await createExchange(usdtToEth, new Decimal('50'), payoutAddress);
    const deposit = await sendUsdt(localHostWallet, created.payinAddress, 50_000_000n);
    const finished = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    expect(finished.status).toBe('finished');
    expect(finished.payinHash).toBe(deposit.hash);
    expect(finished.amountFrom?.toFixed()).toBe('50');
    const amountTo = expectedAmountTo(usdtToEth, new Decimal('50'));
    expect(finished.amountTo?.toFixed()).toBe(amountTo.toFixed());
    expect(await ethBalanceOf(payoutAddress)).toBe(parseUnits(amountTo.toFixed(), 18));
    expect(await payoutTransaction(finished)).toMatchObject({ to: payoutAddress, status: 1 });
  }, 60_000);

  it('USDT → XMR: a currency without a local chain finishes with a synthetic payout hash', async () => {
    await mintUsdt(localHostWallet.address, 12_000_000n);
    const created = await createExchange(usdtToXmr, new Decimal('12'), xmrAddress);
    await sendUsdt(localHostWallet, created.payinAddress, 12_000_000n);
    const finished = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    expect(finished.status).toBe('finished');
    expect(finished.payoutHash).toMatch(/^simulated:xmr:[0-9a-f]{64}$/);
    expect(finished.amountTo?.toFixed()).toBe(expectedAmountTo(usdtToXmr, new Decimal('12')).toFixed());
  }, 60_000);

  it('lists exchanges by userId, exactly the ones created with it', async () => {
    const created = await createExchange(ethToUsdt, new Decimal('0.002'), freshAddress());
    const listed = await callSimulator('/v2/exchanges', { query: { userId: created.userId } });
    expect(amountOf(listed.body['count'])?.toFixed()).toBe('1');
    const exchanges = listed.body['exchanges'] as Record<string, unknown>[];
    expect(exchanges.map((exchange) => exchange['id'])).toEqual([created.id]);
    expect(exchanges[0]).toMatchObject({ userId: created.userId, status: 'waiting' });
    const none = await callSimulator('/v2/exchanges', { query: { userId: `nobody-${randomUUID()}` } });
    expect(amountOf(none.body['count'])?.toFixed()).toBe('0');
    expect(await simulatorExchanges(created.userId)).toHaveLength(1);
  });
});

describe('ChangeNow simulator: faults on demand', () => {
  it('answers 429 with Retry-After for the next requests asked, then normally', async () => {
    await injectFault({ status: 429, count: 2, path: '/v2/exchange/range' });
    const answers = [];
    for (let attempt = 0; attempt < 3; attempt += 1) answers.push(await callSimulator('/v2/exchange/range', { query: pairQuery(ethToUsdt) }));
    expect(answers.map((answer) => answer.status)).toEqual([429, 429, 200]);
    expect(answers[0]?.headers.get('retry-after')).toBe('1');
    expect(answers[0]?.body['error']).toBe('too_many_requests');
  });

  it('answers 500, 502 and 503 bursts with internal_error, on any path when none is named', async () => {
    await injectFault({ status: 500, count: 1 });
    await injectFault({ status: 502, count: 1 });
    await injectFault({ status: 503, count: 1 });
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const answer = await callSimulator('/v2/exchange/min-amount', { query: pairQuery(usdtToXmr) });
      statuses.push(answer.status);
      if (answer.status >= 500) expect(answer.body['error']).toBe('internal_error');
    }
    expect(statuses).toEqual([500, 502, 503, 200]);
  });

  it('answers slowly when asked', async () => {
    await injectFault({ delayMs: 1_500, count: 1, path: '/v2/exchange/range' });
    const startedAt = Date.now();
    const slow = await callSimulator('/v2/exchange/range', { query: pairQuery(ethToUsdt) });
    expect(slow.status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_500);
    const fastStartedAt = Date.now();
    await callSimulator('/v2/exchange/range', { query: pairQuery(ethToUsdt) });
    expect(Date.now() - fastStartedAt).toBeLessThan(1_500);
  });

  it('creates the exchange but never answers after timeout-after-create; it is found by userId', async () => {
    await injectFault({ kind: 'timeout-after-create', count: 1, hangMs: 300 });
    const userId = `test-${randomUUID()}`;
    await expect(
      callSimulator('/v2/exchange', { body: { ...ethToUsdt, fromAmount: new Decimal('0.01'), address: freshAddress(), userId, flow: 'standard', type: 'direct' } }),
    ).rejects.toThrow();
    const listed = await callSimulator('/v2/exchanges', { query: { userId } });
    expect(amountOf(listed.body['count'])?.toFixed()).toBe('1');
    expect((listed.body['exchanges'] as Record<string, unknown>[])[0]).toMatchObject({ userId });
  });
});

describe('ChangeNow simulator: failed, refunded and verifying exchanges', () => {
  it('fails a planned exchange after the deposit: nothing is paid out', async () => {
    const payoutAddress = freshAddress();
    await planOutcome({ match: { payoutAddress }, outcome: 'failed', reason: 'compliance check failed' });
    const created = await createExchange(ethToUsdt, new Decimal('0.01'), payoutAddress);
    await sendEth(localHostWallet, created.payinAddress, parseEther('0.01'));
    const failed = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    expect(failed.status).toBe('failed');
    expect(failed.endReason).toBe('compliance check failed');
    expect(failed.statusHistory).toEqual(['new', 'waiting', 'confirming', 'exchanging', 'failed']);
    expect([failed.payoutHash, failed.amountTo]).toEqual([null, null]);
    expect(await usdtBalanceOf(payoutAddress)).toBe(0n);
  }, 60_000);

  it('refunds a planned exchange to the refund address: the deposit really comes back', async () => {
    const payoutAddress = freshAddress();
    const refundAddress = freshAddress();
    // Planned outcomes apply to exchanges created after them, and only to those that match.
    const before = await createExchange(ethToUsdt, new Decimal('0.01'), payoutAddress);
    await planOutcome({ match: { payoutAddress, toCurrency: 'usdt' }, outcome: 'refunded' });
    const other = await createExchange(ethToUsdt, new Decimal('0.01'), freshAddress());
    const refunded = await createExchange(ethToUsdt, new Decimal('0.01'), payoutAddress, { refundAddress });
    await sendEth(localHostWallet, refunded.payinAddress, parseEther('0.0105'));
    const done = await waitForExchangeStatus(refunded.id, ['finished', 'failed', 'refunded']);
    expect(done.status).toBe('refunded');
    expect(done.statusHistory).toEqual(['new', 'waiting', 'confirming', 'exchanging', 'refunded']);
    expect(done.refundAmount?.toFixed()).toBe('0.0105');
    expect([done.payoutHash, done.amountTo]).toEqual([null, null]);
    expect(await ethBalanceOf(refundAddress)).toBe(parseEther('0.0105'));
    expect(await usdtBalanceOf(payoutAddress)).toBe(0n);
    expect(await payoutTransaction(done)).toMatchObject({ to: refundAddress, value: parseEther('0.0105'), status: 1 });
    const view = await exchangeById(refunded.id);
    expect(view['refundHash']).toBe(done.refundHash);
    expect(amountOf(view['refundAmount'])?.toFixed()).toBe('0.0105');
    for (const unplanned of [before, other]) expect((await simulatorExchanges(unplanned.userId))[0]?.plannedOutcome).toBeNull();
  }, 60_000);

  it('refunds to the sender when no refund address was given', async () => {
    await mintUsdt(localHostWallet.address, 15_000_000n);
    await planOutcome({ match: { toCurrency: 'xmr' }, outcome: 'refunded', reason: 'address flagged' });
    const created = await createExchange(usdtToXmr, new Decimal('15'), xmrAddress);
    const hostUsdtBefore = await usdtBalanceOf(localHostWallet.address);
    await sendUsdt(localHostWallet, created.payinAddress, 15_000_000n);
    const done = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    expect(done.status).toBe('refunded');
    expect(done.endReason).toBe('address flagged');
    expect(await usdtBalanceOf(localHostWallet.address)).toBe(hostUsdtBefore);
    expect(done.refundAmount?.toFixed()).toBe('15');
  }, 60_000);

  it('refunds a deposit below the minimum instead of exchanging it', async () => {
    const created = await createExchange(ethToUsdt, new Decimal('0.01'), freshAddress());
    await sendEth(localHostWallet, created.payinAddress, parseEther('0.0005'));
    const done = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    expect(done.status).toBe('refunded');
    expect(done.endReason).toMatch(/below|less than the minimal/);
    expect(await payoutTransaction(done)).toMatchObject({ to: localHostWallet.address, value: parseEther('0.0005'), status: 1 });
  }, 60_000);

  it('holds a planned exchange in verifying, then finishes it', async () => {
    const payoutAddress = freshAddress();
    await planOutcome({ match: { payoutAddress }, outcome: 'verifying', verifyingMs: 1_000 });
    const created = await createExchange(ethToUsdt, new Decimal('0.01'), payoutAddress);
    await sendEth(localHostWallet, created.payinAddress, parseEther('0.01'));
    const finished = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    expect(finished.statusHistory).toEqual(['new', 'waiting', 'confirming', 'verifying', 'exchanging', 'sending', 'finished']);
    expect(await usdtBalanceOf(payoutAddress)).toBe(parseUnits(expectedAmountTo(ethToUsdt, new Decimal('0.01')).toFixed(), 6));
  }, 60_000);

  it('pays out from the exchange hot wallet, which is not the host wallet', async () => {
    const payoutAddress = freshAddress();
    const created = await createExchange(ethToUsdt, new Decimal('0.001'), payoutAddress);
    await sendEth(localHostWallet, created.payinAddress, parseEther('0.001'));
    const finished = await waitForExchangeStatus(created.id, ['finished', 'failed', 'refunded']);
    const transaction = await localEvmProvider().getTransaction(finished.payoutHash ?? '');
    expect(transaction?.from).toBe(localExchangeWallet.address);
  }, 60_000);
});
