// Proves the rules that turn a record into a dead letter instead of a ledger row or a client row:
// each broken rule is named with its field, and a record that keeps them all passes.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import type { ClientPayoutConfig, PaymentReceived } from '../../schemas/generated/records.ts';
import { paymentViolation } from './payment-rules.ts';
import { clientRowOf } from '../../core/client-payout-config.ts';
import { clientConfigViolation } from './client-config-violation.ts';

const d = (text: string): Decimal => new Decimal(text);

const payment: PaymentReceived = {
  payment_id: '5077125051',
  client_id: '-1001234567890',
  user_id: '6271402111',
  subscription_id: '42',
  order_id: 'PP1|-1001234567890|6271402111|42',
  order_description: null,
  usd_amount: d('50'),
  eth_amount: d('0.021087'),
  pay_currency: 'eth',
  actually_paid: d('0.0213'),
  pay_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
  purchase_id: null,
  paid_at: new Date('2026-11-20T14:23:06.244Z'),
  received_at: new Date('2026-11-20T14:23:07.000Z'),
};

const config: ClientPayoutConfig = {
  client_id: '-1001234567890',
  revision: 2,
  strategy: 'THRESHOLD',
  threshold_usd: d('75'),
  wallet_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
  payout_currency: 'usdt',
  payout_network: 'eth',
  pending_wallet_address: null,
  pending_wallet_effective_at: null,
  changed_by: 'admin',
  changed_at: new Date('2026-11-20T10:00:00Z'),
};

describe('paymentViolation', () => {
  it('passes a payment the ledger can hold', () => {
    expect(paymentViolation(payment, d('3'))).toBeNull();
  });

  it.each([
    { name: 'zero USD', change: { usd_amount: d('0') }, field: 'usd_amount', rule: 'positive' },
    { name: 'negative USD', change: { usd_amount: d('-5') }, field: 'usd_amount', rule: 'positive' },
    { name: 'zero ETH', change: { eth_amount: d('0') }, field: 'eth_amount', rule: 'positive' },
    { name: 'USD past 8 decimals', change: { usd_amount: d('1.000000001') }, field: 'usd_amount', rule: 'scale' },
    { name: 'ETH past 18 decimals', change: { eth_amount: d('0.0000000000000000001') }, field: 'eth_amount', rule: 'scale' },
    { name: 'USD past 20 integer digits', change: { usd_amount: d('123456789012345678901') }, field: 'usd_amount', rule: 'precision' },
    { name: 'a client id no client can have', change: { client_id: 'abc' }, field: 'client_id', rule: 'client-id' },
    { name: 'a payment id that is not digits', change: { payment_id: 'x-1' }, field: 'payment_id', rule: 'payment-id' },
    { name: 'no user id', change: { user_id: '' }, field: 'user_id', rule: 'present' },
    { name: 'an invalid time', change: { paid_at: new Date(Number.NaN) }, field: 'paid_at', rule: 'timestamp' },
  ])('names $field ($rule) for $name', ({ change, field, rule }) => {
    expect(paymentViolation({ ...payment, ...change }, d('3'))).toMatchObject({ field, rule });
  });

  it('refuses an amount too small to carry the fee, which the ledger could not hold as a positive net', () => {
    expect(paymentViolation({ ...payment, usd_amount: d('0.00000001') }, d('60'))).toMatchObject({ field: 'usd_amount', rule: 'net-positive' });
  });
});

describe('clientConfigViolation', () => {
  it('passes a configuration the clients table can hold, and maps it to a row', () => {
    expect(clientConfigViolation(config)).toBeNull();
    expect(clientRowOf(config)).toEqual({
      client_id: '-1001234567890',
      revision: 2,
      strategy: 'threshold',
      threshold_usd: d('75'),
      wallet_address: config.wallet_address,
      payout_currency: 'usdt',
      payout_network: 'eth',
      pending_wallet_address: null,
      pending_wallet_effective_at: null,
    });
    expect(clientRowOf({ ...config, strategy: 'INSTANT', threshold_usd: null }).strategy).toBe('instant');
  });

  it.each([
    { name: 'a bad client id', change: { client_id: '12a' }, field: 'client_id', rule: 'client-id' },
    { name: 'revision 0', change: { revision: 0 }, field: 'revision', rule: 'revision' },
    { name: 'threshold strategy without a threshold', change: { threshold_usd: null }, field: 'threshold_usd', rule: 'threshold-required' },
    { name: 'a zero threshold', change: { threshold_usd: d('0') }, field: 'threshold_usd', rule: 'positive' },
    { name: 'an empty wallet', change: { wallet_address: ' ' }, field: 'wallet_address', rule: 'present' },
    { name: 'a pending wallet without its time', change: { pending_wallet_address: '0xabc' }, field: 'pending_wallet_address', rule: 'pending-wallet-pair' },
  ])('names $field ($rule) for $name', ({ change, field, rule }) => {
    expect(clientConfigViolation({ ...config, ...change })).toMatchObject({ field, rule });
  });
});
