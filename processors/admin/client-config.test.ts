// Proves the registration rules of a client's payout config: threshold bounds and format, strategy
// consistency, supported pairs, wallet per pair, client id and actor formats — each refusal naming
// its field and rule.
import { describe, expect, it } from 'vitest';
import { LosslessNumber, parse } from 'lossless-json';
import { Decimal } from '../../core/money.ts';
import { parseClientConfigRequest } from './client-config.ts';
import { parseClientId } from '../../core/http/request-validation.ts';
import { parseActor, RequestValidationError } from '../../core/http/request-validation.ts';

const bounds = { min: new Decimal('50'), max: new Decimal('100000') };
const xmrWallet = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
const evmWallet = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

function thresholdBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { strategy: 'threshold', threshold_usd: '250', wallet_address: xmrWallet, payout_currency: 'xmr', payout_network: 'xmr', ...overrides };
}

function rejectionOf(body: unknown): RequestValidationError {
  try {
    parseClientConfigRequest(body, bounds);
  } catch (error) {
    if (error instanceof RequestValidationError) return error;
    throw error;
  }
  throw new Error('expected a RequestValidationError');
}

describe('a valid config', () => {
  it('reads a threshold client with an exact threshold', () => {
    const request = parseClientConfigRequest(thresholdBody({ threshold_usd: '50.00000001' }), bounds);
    expect(request.strategy).toBe('threshold');
    expect(request.threshold_usd?.toFixed()).toBe('50.00000001');
  });

  it('reads an instant client without a threshold (absent or null)', () => {
    const base = { strategy: 'instant', wallet_address: evmWallet, payout_currency: 'usdt', payout_network: 'eth' };
    expect(parseClientConfigRequest(base, bounds).threshold_usd).toBeNull();
    expect(parseClientConfigRequest({ ...base, threshold_usd: null }, bounds).threshold_usd).toBeNull();
  });

  it('accepts the bounds themselves', () => {
    expect(parseClientConfigRequest(thresholdBody({ threshold_usd: '50' }), bounds).threshold_usd?.toFixed()).toBe('50');
    expect(parseClientConfigRequest(thresholdBody({ threshold_usd: '100000.00' }), bounds).threshold_usd?.toFixed()).toBe('100000');
  });

  it('reads currency and network case-insensitively as ChangeNow tickers', () => {
    const request = parseClientConfigRequest(thresholdBody({ payout_currency: 'XMR', payout_network: 'Xmr' }), bounds);
    expect([request.payout_currency, request.payout_network]).toEqual(['xmr', 'xmr']);
  });
});

describe('threshold rules', () => {
  it.each([
    ['below the minimum', '49.99999999', 'minimum 50'],
    ['zero', '0', 'minimum 50'],
    ['above the maximum', '100000.00000001', 'maximum 100000'],
    ['negative', '-100', 'positive'],
    ['not a decimal', 'abc', 'decimal string'],
    ['exponent notation', '1e3', 'decimal string'],
    ['more than 8 decimals', '100.123456789', 'at most 8 decimal places'],
    ['a leading plus', '+100', 'decimal string'],
    ['empty', '', 'decimal string'],
  ])('refuses a threshold %s', (_name, value, rule) => {
    expect(rejectionOf(thresholdBody({ threshold_usd: value }))).toMatchObject({ field: 'threshold_usd', rule });
  });

  it('refuses a JSON number for money, even one that is exact', () => {
    const body = parse('{"strategy":"threshold","threshold_usd":250,"wallet_address":"x","payout_currency":"xmr","payout_network":"xmr"}');
    expect((body as Record<string, unknown>)['threshold_usd']).toBeInstanceOf(LosslessNumber);
    expect(rejectionOf(body)).toMatchObject({ field: 'threshold_usd', rule: 'money as a decimal string' });
    expect(rejectionOf(thresholdBody({ threshold_usd: 250 }))).toMatchObject({ field: 'threshold_usd', rule: 'money as a decimal string' });
  });

  it('requires a threshold for the threshold strategy', () => {
    expect(rejectionOf(thresholdBody({ threshold_usd: undefined }))).toMatchObject({ field: 'threshold_usd', rule: 'required for strategy threshold' });
    expect(rejectionOf(thresholdBody({ threshold_usd: null }))).toMatchObject({ field: 'threshold_usd', rule: 'required for strategy threshold' });
  });

  it('refuses a threshold with the instant strategy', () => {
    expect(rejectionOf(thresholdBody({ strategy: 'instant' }))).toMatchObject({ field: 'threshold_usd', rule: 'absent for strategy instant' });
  });

  it('follows configured bounds', () => {
    const strict = { min: new Decimal('100'), max: new Decimal('500') };
    expect(() => parseClientConfigRequest(thresholdBody({ threshold_usd: '99' }), strict)).toThrow(/at least 100/);
    expect(() => parseClientConfigRequest(thresholdBody({ threshold_usd: '501' }), strict)).toThrow(/at most 500/);
  });
});

describe('strategy, pair and wallet rules', () => {
  it('refuses an unknown strategy', () => {
    expect(rejectionOf(thresholdBody({ strategy: 'weekly' }))).toMatchObject({ field: 'strategy', rule: 'one of instant, threshold' });
  });

  it('refuses an unknown currency, naming payout_currency and the supported pairs', () => {
    const error = rejectionOf(thresholdBody({ payout_currency: 'xyz', payout_network: 'xyz' }));
    expect(error).toMatchObject({ field: 'payout_currency', code: 'unsupported_payout_pair' });
    expect(error.rule).toContain('xmr/xmr');
  });

  it('refuses a known currency on an unsupported network, naming payout_network', () => {
    const error = rejectionOf(thresholdBody({ payout_currency: 'usdt', payout_network: 'bsc', wallet_address: evmWallet }));
    expect(error).toMatchObject({ field: 'payout_network', rule: 'supported network for usdt: eth, trx', code: 'unsupported_payout_pair' });
  });

  it('refuses a wallet of another network, naming the format expected', () => {
    const error = rejectionOf(thresholdBody({ wallet_address: evmWallet }));
    expect(error).toMatchObject({ field: 'wallet_address', code: 'invalid_wallet_address' });
    expect(error.rule).toContain('Monero');
  });

  it('refuses an EVM address with a wrong EIP-55 checksum', () => {
    const body = { strategy: 'instant', wallet_address: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', payout_currency: 'eth', payout_network: 'eth' };
    expect(rejectionOf(body)).toMatchObject({ field: 'wallet_address', code: 'invalid_wallet_address' });
  });

  it.each(['strategy', 'wallet_address', 'payout_currency', 'payout_network'])('requires %s', (field) => {
    expect(rejectionOf(thresholdBody({ [field]: undefined })).problems.map((problem) => problem.field)).toContain(field);
  });

  it('refuses unknown fields (a misspelt threshold must not be ignored)', () => {
    expect(rejectionOf(thresholdBody({ threshold: '100' }))).toMatchObject({ field: 'threshold', rule: 'unknown field' });
  });

  it('lists every problem of a body at once', () => {
    const error = rejectionOf({ strategy: 'threshold', threshold_usd: '10', wallet_address: 'nope', payout_currency: 'xmr', payout_network: 'xmr' });
    expect(error.problems.map((problem) => problem.field)).toEqual(['threshold_usd', 'wallet_address']);
  });

  it.each([null, [], 'text', new LosslessNumber('5')])('refuses a body that is not an object: %j', (body) => {
    expect(rejectionOf(body)).toMatchObject({ field: 'body', rule: 'JSON object' });
  });
});

describe('client ids and actors', () => {
  it.each(['-1001234567890', '42', '-1', '12345678901234'])('accepts client id %s', (id) => {
    expect(parseClientId(id)).toBe(id);
  });

  it.each(['', 'abc', '123456789012345', '--1', '1.5', '-'])('refuses client id %j', (id) => {
    expect(() => parseClientId(id)).toThrow(expect.objectContaining({ field: 'clientId' }) as Error);
  });

  it('defaults the actor to admin and refuses free text', () => {
    expect(parseActor(undefined)).toBe('admin');
    expect(parseActor('')).toBe('admin');
    expect(parseActor('ops@example.com')).toBe('ops@example.com');
    expect(() => parseActor('Robert"); DROP TABLE')).toThrow(expect.objectContaining({ field: 'x-actor' }) as Error);
  });
});
