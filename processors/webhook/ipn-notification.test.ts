// Proves the IPN validation rules alone (no HTTP): every field's rule is named when broken, amounts
// are read from their exact text and accepted exactly when the Avro record can encode them, dates
// are strict and inside the window, and a finished payment needs its settled amounts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LosslessNumber } from 'lossless-json';
import { Decimal } from '../../core/money.ts';
import { finishedIpn, jsonNumber } from '../../test/support/ipn.ts';
import type avro from 'avsc';
import { ValidationError } from '../../core/errors.ts';
import { parseAvroSchema, type DecimalType } from '../../schemas/logical-types.ts';
import { paymentReceivedSchema } from '../../schemas/generated/records.ts';
import { toPaymentReceived } from './payment-received.ts';
import { IpnValidationError, parseIpnTimestamp, validateIpn } from './ipn-notification.ts';

const limits = { usdAmountMax: new Decimal('100000'), timestampEarliest: new Date('2009-01-01T00:00:00Z'), timestampFutureToleranceMs: 86_400_000 };
const now = new Date('2026-11-21T00:00:00Z');
const paymentReceivedType = parseAvroSchema(paymentReceivedSchema) as avro.types.RecordType;

function rejectionOf(body: unknown): { field: string; rule: string } {
  try {
    validateIpn(body, limits, now);
  } catch (error) {
    if (error instanceof IpnValidationError) return { field: error.field, rule: error.rule };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('validateIpn', () => {
  it('reads a finished IPN into exact decimals, the order reference and dates', () => {
    const notification = validateIpn(finishedIpn({ price_amount: jsonNumber('49.99'), order_id: 'PP1|-1001234567890|6271402111|42' }), limits, now);
    expect(notification.priceAmount.toString()).toBe('49.99');
    expect(notification.outcomeAmount?.toString()).toBe('0.021087');
    expect(notification.order).toEqual({ clientId: '-1001234567890', userId: '6271402111', subscriptionId: '42' });
    expect(notification.updatedAt.toISOString()).toBe('2026-11-20T14:23:06.244Z');
  });

  it('accepts amounts sent as strings and upper-case currencies', () => {
    const notification = validateIpn(finishedIpn({ price_amount: '12.5', price_currency: 'USD', pay_currency: 'ETH' }), limits, now);
    expect(notification.priceAmount.toString()).toBe('12.5');
    expect(notification.payCurrency).toBe('eth');
  });

  it('accepts epoch-millisecond timestamps', () => {
    const notification = validateIpn(finishedIpn({ updated_at: jsonNumber('1795000000000') }), limits, now);
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
    const waiting = validateIpn(finishedIpn({ payment_status: 'waiting', outcome_amount: undefined, actually_paid: jsonNumber('0') }), limits, now);
    expect(waiting.outcomeAmount).toBeNull();
  });

  it('accepts exactly the amounts the Avro record encodes, never losing a digit', () => {
    const ethAmountType = paymentReceivedType.field('eth_amount').type as DecimalType;
    const encodable = (text: string): boolean => {
      try {
        ethAmountType.toUnscaled(new Decimal(text));
        return true;
      } catch (error) {
        if (error instanceof ValidationError) return false;
        throw error;
      }
    };
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 45n }), fc.integer({ min: 0, max: 24 }), (units, scale) => {
        const digits = units.toString().padStart(scale + 1, '0');
        const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
        const ipn = finishedIpn({ outcome_amount: new LosslessNumber(text) });
        if (!encodable(text)) {
          expect(rejectionOf(ipn).field).toBe('outcome_amount');
          return;
        }
        const notification = validateIpn(ipn, limits, now);
        expect(notification.outcomeAmount?.equals(new Decimal(text))).toBe(true);
        // What is accepted is what the producer can encode: the whole record, not just this field.
        expect(() => paymentReceivedType.toBuffer(toPaymentReceived(notification, now))).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['year 0', '0000-01-01T00:00:00Z'],
    ['the earliest JS date', '-271821-04-20T00:00:00.000Z'],
    ['the latest JS date', '+275760-09-13T00:00:00.000Z'],
    ['15-digit epoch millis', jsonNumber('999999999999999')],
    ['"-1"', '-1'],
    ['30 February', '2026-02-30T00:00:00Z'],
    ['29 February of a common year', '2027-02-29T00:00:00Z'],
    ['hour 24', '2026-11-20T24:00:00Z'],
    ['a leap second', '2026-12-31T23:59:60Z'],
    ['no zone', '2026-11-20T14:23:06'],
    ['date only', '2026-11-20'],
    ['a space for T', '2026-11-20 14:23:06Z'],
    ['before 2009', '2008-12-31T23:59:59.999Z'],
    ['more than a day ahead', '2026-11-22T00:00:00.001Z'],
    ['a zone offset of 24 hours', '2026-11-20T14:23:06+24:00'],
    ['a number with a fraction', jsonNumber('1795000000000.5')],
    ['a negative epoch', jsonNumber('-1')],
  ])('refuses updated_at %s', (_name, updatedAt) => {
    expect(rejectionOf(finishedIpn({ updated_at: updatedAt })).field).toBe('updated_at');
  });

  it('reads ISO-8601 with any fraction and zone offset to the millisecond', () => {
    expect(parseIpnTimestamp('2026-11-20T14:23:06.244Z')?.toISOString()).toBe('2026-11-20T14:23:06.244Z');
    expect(parseIpnTimestamp('2026-11-20T14:23:06Z')?.toISOString()).toBe('2026-11-20T14:23:06.000Z');
    expect(parseIpnTimestamp('2026-11-20T14:23:06.2449999Z')?.toISOString()).toBe('2026-11-20T14:23:06.244Z');
    expect(parseIpnTimestamp('2026-11-20T16:23:06.244+02:00')?.toISOString()).toBe('2026-11-20T14:23:06.244Z');
    expect(parseIpnTimestamp('2028-02-29T00:00:00Z')?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(parseIpnTimestamp('0099-03-01T00:00:00Z')?.toISOString()).toBe('0099-03-01T00:00:00.000Z');
  });

  it('accepts any instant inside the window, in either form, as the same date', () => {
    fc.assert(
      fc.property(fc.integer({ min: limits.timestampEarliest.getTime(), max: now.getTime() + limits.timestampFutureToleranceMs }), (epochMs) => {
        const iso = validateIpn(finishedIpn({ updated_at: new Date(epochMs).toISOString() }), limits, now).updatedAt;
        const millis = validateIpn(finishedIpn({ updated_at: jsonNumber(String(epochMs)) }), limits, now).updatedAt;
        expect([iso.getTime(), millis.getTime()]).toEqual([epochMs, epochMs]);
      }),
    );
  });

  it.each([
    ['order_description', 'a\u0000b'],
    ['pay_address', '0x\ud800'],
    ['purchase_id', '\udc00'],
  ])('refuses %s that PostgreSQL text or UTF-8 cannot hold', (field, text) => {
    expect(rejectionOf(finishedIpn({ [field]: text })).field).toBe(field);
  });

  it('refuses a price_amount with more integer digits than the Avro decimal holds, even under a huge maximum', () => {
    const rejection = (() => {
      try {
        validateIpn(finishedIpn({ price_amount: jsonNumber('123456789012345678901') }), { ...limits, usdAmountMax: new Decimal('1e30') }, now);
      } catch (error) {
        if (error instanceof IpnValidationError) return error;
      }
      return undefined;
    })();
    expect(rejection?.field).toBe('price_amount');
    expect(rejection?.rule).toBe('at most 20 digits before the decimal point');
  });
});
