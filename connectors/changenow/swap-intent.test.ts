import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import type { ConversionRequested, PayoutRequested } from '../../schemas/generated/records.ts';
import { conversionIntent, isRejection, payInBaseUnits, payoutIntent } from './swap-intent.ts';

const host = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const requestedAt = new Date('2026-11-21T10:00:00Z');

function payout(overrides: Partial<PayoutRequested> = {}): PayoutRequested {
  return {
    command_id: 'payout-1',
    payout_batch_id: 'payout-1',
    client_id: 'client-1',
    reason: 'THRESHOLD',
    from_currency: 'usdt',
    from_network: 'eth',
    amount: new Decimal('512.123456'),
    usd_value: new Decimal('512.12345600'),
    to_currency: 'xmr',
    to_network: 'xmr',
    payout_address: '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A',
    requested_at: requestedAt,
    ...overrides,
  };
}

describe('swap intents', () => {
  it('converts a batch of ETH into USDT paid to the host wallet, refunds to the host wallet', () => {
    const command: ConversionRequested = {
      command_id: 'batch-1',
      batch_id: 'batch-1',
      member_payment_ids: ['p1', 'p2'],
      total_usd: new Decimal('20.37'),
      total_eth: new Decimal('0.006790000000000001'),
      threshold_usd: new Decimal('20'),
      trigger: 'THRESHOLD',
      requested_at: requestedAt,
    };
    const intent = conversionIntent(command, host);
    if (isRejection(intent)) throw new Error(intent.reason);
    expect(intent).toMatchObject({ kind: 'conversion', route: 'exchange', fromCurrency: 'eth', toCurrency: 'usdt', toNetwork: 'eth', payoutAddress: host, refundAddress: host });
    expect(payInBaseUnits(intent.fromCurrency, intent.fromNetwork, intent.fromAmount)).toBe(6_790_000_000_000_001n);
  });

  it('pays a threshold payout out of USDT through an exchange, in base units of 10^-6', () => {
    const intent = payoutIntent(payout(), host);
    if (isRejection(intent)) throw new Error(intent.reason);
    expect(intent.route).toBe('exchange');
    expect(payInBaseUnits(intent.fromCurrency, intent.fromNetwork, intent.fromAmount)).toBe(512_123_456n);
  });

  it('sends ETH straight to an instant client paid in ETH: no exchange, no exchange fee', () => {
    const intent = payoutIntent(payout({ reason: 'INSTANT', from_currency: 'ETH', from_network: 'eth', to_currency: 'eth', to_network: 'ETH', amount: new Decimal('0.5') }), host);
    if (isRejection(intent)) throw new Error(intent.reason);
    expect(intent.route).toBe('direct');
  });

  it('sends the pool’s USDT straight to a threshold client paid in usdt/eth, and exchanges it for USDT on another network', () => {
    const direct = payoutIntent(payout({ to_currency: 'usdt', to_network: 'eth', payout_address: host }), host);
    if (isRejection(direct)) throw new Error(direct.reason);
    expect(direct).toMatchObject({ route: 'direct', fromCurrency: 'usdt', toCurrency: 'usdt', payoutAddress: host });
    const tron = payoutIntent(payout({ to_currency: 'usdt', to_network: 'trx' }), host);
    if (isRejection(tron)) throw new Error(tron.reason);
    expect(tron.route).toBe('exchange');
  });

  it('refuses what the host wallet cannot pay in, naming the field and the rule', () => {
    expect(payoutIntent(payout({ from_currency: 'btc', from_network: 'btc' }), host)).toMatchObject({ field: 'from_currency', rule: 'pay-in asset' });
    expect(payoutIntent(payout({ amount: new Decimal('1.0000001') }), host)).toMatchObject({ field: 'amount', rule: 'base units' });
    expect(payoutIntent(payout({ amount: new Decimal('0') }), host)).toMatchObject({ field: 'amount', rule: 'positive' });
    expect(payoutIntent(payout({ payout_address: ' ' }), host)).toMatchObject({ field: 'payout_address', rule: 'required' });
  });
});
