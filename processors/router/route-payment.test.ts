// Proves the routing decision alone (no I/O): a threshold client's payment waits as
// pending_conversion, an instant client's becomes an instant payout batch and one PayoutRequested
// to the wallet in force, an unknown client's stays unroutable, and a late routing keeps the fee
// recorded on arrival.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal } from '../../core/money.ts';
import { InvariantViolation } from '../../core/errors.ts';
import type { PaymentReceived } from '../../schemas/generated/records.ts';
import type { ClientPayoutRow } from '../../core/client-payout-config.ts';
import { instantPayoutBatchIdOf, routePayment, routeUnroutable, type LedgerEntry } from './route-payment.ts';

const d = (text: string): Decimal => new Decimal(text);
const now = new Date('2026-11-21T10:00:00.000Z');
const clientId = '-1001234567890';

function payment(overrides: Partial<PaymentReceived> = {}): PaymentReceived {
  return {
    payment_id: '5077125051',
    client_id: clientId,
    user_id: '6271402111',
    subscription_id: '42',
    order_id: `PP1|${clientId}|6271402111|42`,
    order_description: 'Monthly subscription',
    usd_amount: d('49.99'),
    eth_amount: d('0.021087000000000001'),
    pay_currency: 'eth',
    actually_paid: d('0.0213'),
    pay_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
    purchase_id: '5837122679',
    paid_at: new Date('2026-11-20T14:23:06.244Z'),
    received_at: new Date('2026-11-20T14:23:07.000Z'),
    ...overrides,
  };
}

function client(overrides: Partial<ClientPayoutRow> = {}): ClientPayoutRow {
  return {
    client_id: clientId,
    revision: 1,
    strategy: 'instant',
    threshold_usd: null,
    wallet_address: '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A',
    payout_currency: 'xmr',
    payout_network: 'xmr',
    pending_wallet_address: null,
    pending_wallet_effective_at: null,
    ...overrides,
  };
}

const fixedIds = (paymentId: string): string => `batch-for-${paymentId}`;

describe('routePayment', () => {
  it('given a threshold client, when a payment arrives, then it waits in the ledger as pending_conversion with the fee taken', () => {
    const decision = routePayment({ payment: payment(), client: client({ strategy: 'threshold', threshold_usd: d('50') }), feePercent: d('3'), now, payoutBatchIdFor: fixedIds });
    expect(decision.outcome).toBe('pending_conversion');
    const { ledger } = decision;
    expect(ledger).toMatchObject({ payment_id: '5077125051', client_id: clientId, user_id: '6271402111', subscription_id: '42', state: 'pending_conversion', payout_batch_id: null, routed_at: now });
    expect([ledger.fee_percent, ledger.usd_gross, ledger.platform_fee_usd, ledger.usd_net].map((value) => value.toFixed())).toEqual(['3', '49.99', '1.4997', '48.4903']);
    expect([ledger.eth_gross, ledger.platform_fee_eth, ledger.eth_net].map((value) => value.toFixed())).toEqual(['0.021087000000000001', '0.00063261', '0.020454390000000001']);
    expect(decision).not.toHaveProperty('command');
  });

  it('given an instant client, when a payment arrives, then it becomes one instant payout batch and one PayoutRequested of the net ETH', () => {
    const decision = routePayment({ payment: payment(), client: client(), feePercent: d('3'), now, payoutBatchIdFor: fixedIds });
    if (decision.outcome !== 'instant_payout') throw new Error(`expected an instant payout, got ${decision.outcome}`);
    expect(decision.ledger).toMatchObject({ state: 'instant_payout', payout_batch_id: 'batch-for-5077125051', routed_at: now });
    expect(decision.payoutBatch).toMatchObject({
      batch_id: 'batch-for-5077125051',
      client_id: clientId,
      reason: 'instant',
      state: 'requested',
      wallet_address: client().wallet_address,
      payout_currency: 'xmr',
      payout_network: 'xmr',
      source_currency: 'eth',
      created_at: now,
    });
    expect(decision.payoutBatch.source_amount.toFixed()).toBe('0.020454390000000001');
    expect(decision.payoutBatch.usd_value.toFixed()).toBe('48.4903');
    expect(decision.command).toMatchObject({
      command_id: 'batch-for-5077125051',
      payout_batch_id: 'batch-for-5077125051',
      client_id: clientId,
      reason: 'INSTANT',
      from_currency: 'eth',
      from_network: 'eth',
      to_currency: 'xmr',
      to_network: 'xmr',
      payout_address: client().wallet_address,
      requested_at: now,
    });
    expect(decision.command.amount.eq(decision.ledger.eth_net)).toBe(true);
    expect(decision.command.usd_value.eq(decision.ledger.usd_net)).toBe(true);
  });

  it('given a wallet change still in its cooldown, then the instant payout goes to the wallet in force, not the pending one', () => {
    const cooling = client({ pending_wallet_address: '0x00000000000000000000000000000000000000aa', pending_wallet_effective_at: new Date(now.getTime() + 3_600_000) });
    const decision = routePayment({ payment: payment(), client: cooling, feePercent: d('3'), now, payoutBatchIdFor: fixedIds });
    expect(decision.outcome === 'instant_payout' && decision.command.payout_address).toBe(client().wallet_address);
  });

  it('given a wallet change whose cooldown has passed, then the instant payout goes to the new wallet', () => {
    const changed = client({ pending_wallet_address: '0x00000000000000000000000000000000000000aa', pending_wallet_effective_at: new Date(now.getTime() - 1_000) });
    const decision = routePayment({ payment: payment(), client: changed, feePercent: d('3'), now, payoutBatchIdFor: fixedIds });
    expect(decision.outcome === 'instant_payout' && [decision.command.payout_address, decision.payoutBatch.wallet_address]).toEqual([
      '0x00000000000000000000000000000000000000aa',
      '0x00000000000000000000000000000000000000aa',
    ]);
  });

  it('given no registered client, when a payment arrives, then it is kept as unroutable with its fee, routed at no time', () => {
    const decision = routePayment({ payment: payment(), client: null, feePercent: d('3'), now, payoutBatchIdFor: fixedIds });
    expect(decision.outcome).toBe('unroutable');
    expect(decision.ledger).toMatchObject({ state: 'unroutable', payout_batch_id: null, routed_at: null });
    expect(decision.ledger.usd_net.toFixed()).toBe('48.4903');
  });

  it('refuses to route a payment with another client’s configuration', () => {
    expect(() => routePayment({ payment: payment(), client: client({ client_id: '-100999' }), feePercent: d('3'), now, payoutBatchIdFor: fixedIds })).toThrow(InvariantViolation);
  });

  it('derives the default payout batch id from the payment, so a payment can own only one', () => {
    expect(instantPayoutBatchIdOf('5077125051')).toBe('instant-5077125051');
    const first = routePayment({ payment: payment(), client: client(), feePercent: d('3'), now, payoutBatchIdFor: instantPayoutBatchIdOf });
    const again = routePayment({ payment: payment(), client: client(), feePercent: d('3'), now, payoutBatchIdFor: instantPayoutBatchIdOf });
    expect(again).toEqual(first);
  });

  it('keeps net + fee = gross on both sides and pays out exactly the net, for any amounts and strategy', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 100n, max: 10n ** 13n }),
        fc.bigInt({ min: 10n ** 6n, max: 10n ** 22n }),
        fc.constantFrom<ClientPayoutRow | null>(client(), client({ strategy: 'threshold', threshold_usd: d('50') }), null),
        (usdUnscaled, ethUnscaled, routedClient) => {
          const decision = routePayment({
            payment: payment({ usd_amount: d(`${usdUnscaled}e-8`), eth_amount: d(`${ethUnscaled}e-18`) }),
            client: routedClient,
            feePercent: d('3'),
            now,
            payoutBatchIdFor: fixedIds,
          });
          const { ledger } = decision;
          expect(ledger.usd_net.plus(ledger.platform_fee_usd).eq(ledger.usd_gross)).toBe(true);
          expect(ledger.eth_net.plus(ledger.platform_fee_eth).eq(ledger.eth_gross)).toBe(true);
          if (decision.outcome === 'instant_payout') {
            expect(decision.payoutBatch.source_amount.eq(ledger.eth_net) && decision.command.amount.eq(ledger.eth_net)).toBe(true);
          }
        },
      ),
    );
  });
});

describe('routeUnroutable', () => {
  function unroutableEntry(feePercent: string): LedgerEntry {
    const decision = routePayment({ payment: payment(), client: null, feePercent: d(feePercent), now: new Date('2026-11-20T15:00:00Z'), payoutBatchIdFor: fixedIds });
    return decision.ledger;
  }

  it('given a payment that waited for its client, when the client registers as instant, then it pays out with the fee recorded on arrival', () => {
    const decision = routeUnroutable({ entry: unroutableEntry('2.5'), client: client(), now, payoutBatchIdFor: fixedIds });
    expect(decision.outcome).toBe('instant_payout');
    expect(decision.ledger.fee_percent.toFixed()).toBe('2.5');
    expect(decision.ledger.platform_fee_usd.toFixed()).toBe('1.24975');
    expect(decision.ledger.routed_at).toEqual(now);
    expect(decision.ledger.received_at).toEqual(payment().received_at);
  });

  it('given a payment that waited for its client, when the client registers with a threshold, then it waits as pending_conversion', () => {
    const decision = routeUnroutable({ entry: unroutableEntry('3'), client: client({ strategy: 'threshold', threshold_usd: d('50') }), now, payoutBatchIdFor: fixedIds });
    expect(decision.outcome).toBe('pending_conversion');
    expect(decision.ledger).toMatchObject({ state: 'pending_conversion', routed_at: now, payout_batch_id: null });
  });

  it('refuses a row that is already routed', () => {
    const routed = routePayment({ payment: payment(), client: client(), feePercent: d('3'), now, payoutBatchIdFor: fixedIds }).ledger;
    expect(() => routeUnroutable({ entry: routed, client: client(), now, payoutBatchIdFor: fixedIds })).toThrow(InvariantViolation);
  });
});
