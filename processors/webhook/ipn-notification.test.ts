// Proves the IPN validation rules alone (no HTTP): every field's rule is named when broken, amounts
// are read from their exact text, and a finished payment needs its settled amounts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LosslessNumber } from 'lossless-json';
import { Decimal } from '../../core/money.ts';
import { finishedIpn, jsonNumber } from '../../test/support/ipn.ts';
import { IpnValidationError, validateIpn } from './ipn-notification.ts';

const limits = { usdAmountMax: new Decimal('100000') };

function rejectionOf(body: unknown): { field: string; rule: string } {
  try {
    validateIpn(body, limits);
  } catch (error) {
    if (error instanceof IpnValidationError) return { field: error.field, rule: error.rule };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('validateIpn', () => {
  it('reads a finished IPN into exact decimals, the order reference and dates', () => {
    const notification = validateIpn(finishedIpn({ price_amount: jsonNumber('49.99'), order_id: 'PP1|-1001234567890|6271402111|42' }), limits);
    expect(notification.priceAmount.toString()).toBe('49.99');
    expect(notification.outcomeAmount?.toString()).toBe('0.021087');
    expect(notification.order).toEqual({ clientId: '-1001234567890', userId: '6271402111', subscriptionId: '42' });
    expect(notification.updatedAt.toISOString()).toBe('2026-11-20T14:23:06.244Z');
  });

  it('accepts amounts sent as strings and upper-case currencies', () => {
    const notification = validateIpn(finishedIpn({ price_amount: '12.5', price_currency: 'USD', pay_currency: 'ETH' }), limits);
    expect(notification.priceAmount.toString()).toBe('12.5');
    expect(notification.payCurrency).toBe('eth');
  });

  it('accepts epoch-millisecond timestamps', () => {
    const notification = validateIpn(finishedIpn({ updated_at: jsonNumber('1795000000000') }), limits);
    expect(notification.updatedAt.getTime()).toBe(1_795_000_000_000);
  });

  it.each([
    ['payment_id', { payment_id: jsonNumber('-5') }],
    ['payment_id', { payment_id: undefined }],
    ['payment_status', { payment_status: 'paid' }],
    ['pay_address', { pay_address: '' }],
    ['price_amount', { price_amount: jsonNumber('-1') }],
    ['price_amount', { price_amount: jsonNumber('0') }],
    ['price_amount', { price_amount: jsonNumber('1e3') }],
    ['price_amount', { price_amount: jsonNumber('0.123456789') }],
    ['price_amount', { price_amount: jsonNumber('100000.01') }],
    ['price_amount', { price_amount: 'fifty' }],
    ['price_amount', { price_amount: true }],
    ['price_currency', { price_currency: 'eur' }],
    ['pay_currency', { pay_currency: 'e' }],
    ['order_id', { order_id: 'PP1|abc|1|2' }],
    ['order_id', { order_id: 'PP2|-1001234567890|1|2' }],
    ['order_id', { order_id: 'PP1|-1001234567890|1' }],
    ['created_at', { created_at: 'yesterday' }],
    ['updated_at', { updated_at: undefined }],
    ['outcome_amount', { outcome_amount: undefined }],
    ['outcome_amount', { outcome_amount: jsonNumber('0') }],
    ['outcome_currency', { outcome_currency: 'usdt' }],
    ['actually_paid', { actually_paid: jsonNumber('0') }],
  ])('names %s when it breaks its rule (%o)', (field, overrides) => {
    const rejection = rejectionOf(finishedIpn(overrides));
    expect(rejection.field).toBe(field);
    expect(rejection.rule).not.toBe('');
  });

  it('rejects a body that is not an object', () => {
    expect(rejectionOf([1, 2]).field).toBe('body');
    expect(rejectionOf(null).field).toBe('body');
  });

  it('does not require settled amounts before the payment is finished', () => {
    const waiting = validateIpn(finishedIpn({ payment_status: 'waiting', outcome_amount: undefined, actually_paid: jsonNumber('0') }), limits);
    expect(waiting.outcomeAmount).toBeNull();
  });

  it('never loses a digit of any amount with up to 18 decimals', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: 0, max: 18 }), (units, scale) => {
        const digits = units.toString().padStart(scale + 1, '0');
        const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
        const notification = validateIpn(finishedIpn({ outcome_amount: new LosslessNumber(text) }), limits);
        return notification.outcomeAmount?.equals(new Decimal(text)) === true;
      }),
    );
  });
});
