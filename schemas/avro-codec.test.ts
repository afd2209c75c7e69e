// Proves encoding and decoding failures name the field and the broken rule as ValidationErrors,
// by encoding PaymentReceived records with one bad field each and decoding corrupt bytes.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { Decimal } from '../core/money.ts';
import { decodeAvroValue, encodeAvroValue } from './avro-codec.ts';
import { paymentReceivedSchema, type PaymentReceived } from './generated/records.ts';
import { parseAvroSchema } from './logical-types.ts';

const type = parseAvroSchema(paymentReceivedSchema);

const payment: PaymentReceived = {
  payment_id: '5077125051',
  client_id: '-1001234567890',
  user_id: '6271402111',
  subscription_id: '42',
  order_id: 'sub|-1001234567890|6271402111|42',
  order_description: null,
  usd_amount: new Decimal('50'),
  eth_amount: new Decimal('0.021087'),
  pay_currency: 'eth',
  actually_paid: new Decimal('0.0213'),
  pay_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
  purchase_id: '5837122679',
  paid_at: new Date('2026-11-20T14:23:06.244Z'),
  received_at: new Date('2026-11-20T14:23:07.000Z'),
};

function failure(action: () => unknown): ValidationError {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('encodeAvroValue', () => {
  it('encodes a valid record', () => {
    const decoded = decodeAvroValue(type, encodeAvroValue(type, payment, 'payment-received'), 'payment-received') as PaymentReceived;
    expect(decoded.eth_amount.toFixed()).toBe('0.021087');
  });

  it('names the field and the rule of a rounding decimal', () => {
    const error = failure(() => encodeAvroValue(type, { ...payment, usd_amount: new Decimal('50.123456789') }, 'payment-received'));
    expect(error).toMatchObject({ field: 'usd_amount', rule: 'decimal-scale' });
    expect(error.message).toMatch(/^payment-received: cannot encode field usd_amount: decimal\(28,8\) holds at most 8 decimal places/);
  });

  it('names the field of a float amount and of a missing field', () => {
    expect(failure(() => encodeAvroValue(type, { ...payment, eth_amount: 0.021087 }, 'payment-received'))).toMatchObject({ field: 'eth_amount', rule: 'money-not-number' });
    const withoutAddress = Object.fromEntries(Object.entries(payment).filter(([field]) => field !== 'pay_address'));
    expect(failure(() => encodeAvroValue(type, withoutAddress, 'payment-received'))).toMatchObject({ field: 'pay_address', rule: 'avro-type' });
  });
});

describe('decodeAvroValue', () => {
  it('turns truncated bytes into a ValidationError', () => {
    const bytes = encodeAvroValue(type, payment, 'payment-received');
    expect(failure(() => decodeAvroValue(type, bytes.subarray(0, bytes.length - 3), 'payment-received'))).toMatchObject({ rule: 'avro-decode' });
  });
});
