// Proves the pure half of the ChangeNow contract: answers are read losslessly into Decimal (18+18
// digit amounts, exponent notation), a field that breaks the contract is named in the error, the
// request body carries the amount's exact digits as a JSON number, and the range check rejects
// amounts below the minimum or above the maximum with both numbers.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'lossless-json';
import { ValidationError } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';
import {
  assertValidCreateExchange,
  assertWithinRange,
  createExchangeBody,
  estimateQuery,
  exchangeListResponseSchema,
  exchangeResponseSchema,
  isSameAddress,
  pairMismatches,
  parseJsonLossless,
  rangeResponseSchema,
  readResponse,
  type CreateExchangeRequest,
  type CurrencyPair,
} from './changenow-api.ts';
import { ChangeNowResponseInvalidError, ExchangeAmountOutOfRangeError, changeNowEndpoints } from './changenow-errors.ts';

const ethToUsdt: CurrencyPair = { fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' };
const pairJson = '"fromCurrency":"eth","fromNetwork":"eth","toCurrency":"usdt","toNetwork":"eth","flow":"standard"';

function readJson<T>(schema: Parameters<typeof readResponse<T>>[1], text: string): T {
  return readResponse(changeNowEndpoints.exchangeById, schema, parseJsonLossless(changeNowEndpoints.exchangeById, text));
}

function exchangeJson(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    id: '"a1b2c3d4e5f6a7"',
    status: '"waiting"',
    actionsAvailable: 'false',
    fromCurrency: '"eth"',
    fromNetwork: '"eth"',
    toCurrency: '"usdt"',
    toNetwork: '"eth"',
    expectedAmountFrom: '0.0123456789',
    expectedAmountTo: '36.123456',
    amountFrom: 'null',
    amountTo: 'null',
    payinAddress: '"0x1111111111111111111111111111111111111111"',
    payoutAddress: '"0x2222222222222222222222222222222222222222"',
    payinExtraId: 'null',
    payoutExtraId: 'null',
    refundAddress: 'null',
    refundExtraId: 'null',
    createdAt: '"2025-01-02T03:04:05.678Z"',
    updatedAt: '"2025-01-02T03:04:06.000Z"',
    depositReceivedAt: 'null',
    payinHash: 'null',
    payoutHash: 'null',
    refundHash: 'null',
    refundAmount: 'null',
    userId: '"command-1"',
    payload: '{"commandId":"command-1"}',
    ...overrides,
  };
  return `{${Object.entries(fields)
    .map(([name, value]) => `"${name}":${value}`)
    .join(',')}}`;
}

describe('reading answers', () => {
  it('reads an amount with 18 integer and 18 fraction digits exactly', () => {
    const range = readJson(rangeResponseSchema, `{${pairJson},"minAmount":123456789012345678.123456789012345678,"maxAmount":null}`);
    expect(range.minAmount.toFixed()).toBe('123456789012345678.123456789012345678');
    expect(range.maxAmount).toBeNull();
  });

  it('reads JSON exponent notation exactly', () => {
    const range = readJson(rangeResponseSchema, `{${pairJson},"minAmount":1e-7,"maxAmount":2.5E+3}`);
    expect(range.minAmount.toFixed()).toBe('0.0000001');
    expect(range.maxAmount?.toFixed()).toBe('2500');
  });

  it('keeps every digit of any decimal amount (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.integer({ min: 0, max: 18 }), (units, scale) => {
        const text = new Decimal(units.toString()).dividedBy(new Decimal(10).pow(scale)).toFixed();
        const range = readJson(rangeResponseSchema, `{${pairJson},"minAmount":${text},"maxAmount":null}`);
        return range.minAmount.toFixed() === text;
      }),
    );
  });

  it('reads a full exchange, with null amounts until they are known', () => {
    const exchange = readJson(exchangeResponseSchema, exchangeJson());
    expect(exchange.status).toBe('waiting');
    expect(exchange.expectedAmountFrom?.toFixed()).toBe('0.0123456789');
    expect(exchange.amountTo).toBeNull();
    expect(exchange.createdAt.toISOString()).toBe('2025-01-02T03:04:05.678Z');
    expect(exchange.userId).toBe('command-1');
    expect(exchange.payload).toEqual({ commandId: 'command-1' });
  });

  it('reads a finished exchange with its hashes and received amounts', () => {
    const exchange = readJson(
      exchangeResponseSchema,
      exchangeJson({ status: '"finished"', amountFrom: '0.0123456789', amountTo: '36.120001', payoutHash: `"0x${'ab'.repeat(32)}"`, depositReceivedAt: '"2025-01-02T03:05:00Z"' }),
    );
    expect(exchange.amountTo?.toFixed()).toBe('36.120001');
    expect(exchange.payoutHash).toBe(`0x${'ab'.repeat(32)}`);
    expect(exchange.depositReceivedAt?.toISOString()).toBe('2025-01-02T03:05:00.000Z');
  });

  it.each([
    ['amountTo', exchangeJson({ amountTo: '-1' }), 'must not be negative'],
    ['amountFrom', exchangeJson({ amountFrom: '"a lot"' }), 'must be a decimal number'],
    ['status', exchangeJson({ status: '"lost"' }), 'must be one of'],
    ['createdAt', exchangeJson({ createdAt: '"yesterday"' }), 'ISO-8601'],
    ['payinAddress', exchangeJson({ payinAddress: '""' }), 'must not be empty'],
    ['payload', exchangeJson({ payload: '5' }), 'must be an object'],
  ])('names the offending field %s', (field, text, problem) => {
    const failure = (() => {
      try {
        readJson(exchangeResponseSchema, text);
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toBeInstanceOf(ChangeNowResponseInvalidError);
    const invalid = failure as ChangeNowResponseInvalidError;
    expect(invalid.field).toBe(field);
    expect(invalid.message).toContain(field);
    expect(invalid.message).toContain(problem);
  });

  it('names a field missing from the answer, with its path in a list', () => {
    const text = `{"count":1,"exchanges":[${exchangeJson().replace('"payinAddress":"0x1111111111111111111111111111111111111111",', '')}]}`;
    expect(() => readJson(exchangeListResponseSchema, text)).toThrow(expect.objectContaining({ field: 'exchanges.0.payinAddress' }) as Error);
  });

  it('refuses a body that is not JSON', () => {
    expect(() => parseJsonLossless(changeNowEndpoints.range, '<html>bad gateway</html>')).toThrow(ChangeNowResponseInvalidError);
  });

  it('finds the fields where an answer is about another pair than asked', () => {
    expect(pairMismatches(ethToUsdt, { ...ethToUsdt, toCurrency: 'usdc' })).toEqual([{ field: 'toCurrency', problem: 'is usdc, asked for usdt' }]);
    expect(pairMismatches(ethToUsdt, ethToUsdt)).toEqual([]);
  });

  it('compares EVM addresses without letter case and every other address exactly', () => {
    expect(isSameAddress('0xAbCdEf0000000000000000000000000000000001', '0xabcdef0000000000000000000000000000000001')).toBe(true);
    expect(isSameAddress('44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3', '44affq5ksigboz4nmdwytn18obc8aems33dblws3h7otxft3')).toBe(false);
  });
});

describe('writing requests', () => {
  const request: CreateExchangeRequest = {
    ...ethToUsdt,
    fromAmount: new Decimal('123456789012345678.123456789012345678'),
    address: '0x2222222222222222222222222222222222222222',
    userId: 'command-1',
    payload: { commandId: 'command-1' },
  };

  it('writes fromAmount as a JSON number with the exact digits of the Decimal', () => {
    const body = createExchangeBody(request);
    expect(body).toContain('"fromAmount":123456789012345678.123456789012345678,');
    expect(parse(body)).toMatchObject({ flow: 'standard', type: 'direct', userId: 'command-1', payload: { commandId: 'command-1' } });
    expect(body).not.toContain('refundAddress');
    expect(createExchangeBody({ ...request, refundAddress: '0x3333333333333333333333333333333333333333' })).toContain('"refundAddress":"0x3333333333333333333333333333333333333333"');
  });

  it('writes tiny amounts in plain digits, never exponent notation', () => {
    expect(createExchangeBody({ ...request, fromAmount: new Decimal('1e-18') })).toContain('"fromAmount":0.000000000000000001,');
    expect(estimateQuery({ ...ethToUsdt, fromAmount: new Decimal('1e-18') }).fromAmount).toBe('0.000000000000000001');
  });

  it('refuses a request that could only be a mistake, naming the field', () => {
    expect(() => assertValidCreateExchange({ ...request, fromAmount: new Decimal(0) })).toThrow(expect.objectContaining({ field: 'fromAmount' }) as Error);
    expect(() => assertValidCreateExchange({ ...request, toCurrency: 'USDT' })).toThrow(expect.objectContaining({ field: 'toCurrency' }) as Error);
    expect(() => assertValidCreateExchange({ ...request, address: '' })).toThrow(ValidationError);
  });
});

describe('assertWithinRange', () => {
  const range = { minAmount: new Decimal('0.005'), maxAmount: new Decimal('50') };

  it('accepts the bounds themselves and everything between', () => {
    expect(() => assertWithinRange(range, new Decimal('0.005'))).not.toThrow();
    expect(() => assertWithinRange(range, new Decimal('50'))).not.toThrow();
    expect(() => assertWithinRange(range, new Decimal('1.23'))).not.toThrow();
  });

  it('rejects an amount below the minimum with both numbers', () => {
    const check = () => assertWithinRange(range, new Decimal('0.004999999999999999'));
    expect(check).toThrow(ExchangeAmountOutOfRangeError);
    expect(check).toThrow('amount 0.004999999999999999 is below the minimum 0.005 of the pair');
    expect(check).toThrow(expect.objectContaining({ bound: 'below_minimum', rule: 'below_minimum', field: 'fromAmount' }) as Error);
  });

  it('rejects an amount above the maximum with both numbers', () => {
    const check = () => assertWithinRange(range, new Decimal('50.000000000000000001'));
    expect(check).toThrow('amount 50.000000000000000001 is above the maximum 50 of the pair');
    expect(check).toThrow(expect.objectContaining({ bound: 'above_maximum' }) as Error);
  });

  it('has no upper bound when the pair has no maximum', () => {
    expect(() => assertWithinRange({ ...range, maxAmount: null }, new Decimal('1e30'))).not.toThrow();
  });
});
