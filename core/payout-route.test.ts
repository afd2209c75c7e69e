// Proves the payout route decision without I/O: the same asset on the same network is a direct
// transfer whatever the spelling, everything else (another currency, or the same ticker on another
// network) is an exchange — over the supported payout pairs and, by property, over any tickers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payoutPairs } from '../processors/admin/payout-currencies.ts';
import { payoutRouteOf } from './payout-route.ts';

const pool = { currency: 'usdt', network: 'eth' };
const instantPayment = { currency: 'eth', network: 'eth' };

describe('payoutRouteOf', () => {
  it('pays the pool’s USDT to a usdt/eth wallet and an instant payment’s ETH to an eth/eth wallet directly', () => {
    expect(payoutRouteOf({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' })).toBe('direct');
    expect(payoutRouteOf({ fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'eth', toNetwork: 'eth' })).toBe('direct');
  });

  it('exchanges another currency, and the same ticker on another network (USDT on Tron)', () => {
    expect(payoutRouteOf({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'trx' })).toBe('exchange');
    expect(payoutRouteOf({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'usdc', toNetwork: 'eth' })).toBe('exchange');
    expect(payoutRouteOf({ fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' })).toBe('exchange');
  });

  it('ignores case and surrounding blanks, as ChangeNow does with tickers', () => {
    expect(payoutRouteOf({ fromCurrency: 'USDT', fromNetwork: 'Eth', toCurrency: ' usdt', toNetwork: 'ETH ' })).toBe('direct');
  });

  it('gives exactly one direct pair per source over the supported payout pairs', () => {
    for (const source of [pool, instantPayment]) {
      const direct = payoutPairs.filter((pair) => payoutRouteOf({ fromCurrency: source.currency, fromNetwork: source.network, toCurrency: pair.currency, toNetwork: pair.network }) === 'direct');
      expect(direct.map((pair) => `${pair.currency}/${pair.network}`)).toEqual([`${source.currency}/${source.network}`]);
    }
  });

  it('is direct exactly when both sides name the same asset', () => {
    const ticker = fc.constantFrom('usdt', 'eth', 'btc', 'trx', 'USDT', 'Eth');
    fc.assert(
      fc.property(ticker, ticker, ticker, ticker, (fromCurrency, fromNetwork, toCurrency, toNetwork) => {
        const same = fromCurrency.toLowerCase() === toCurrency.toLowerCase() && fromNetwork.toLowerCase() === toNetwork.toLowerCase();
        expect(payoutRouteOf({ fromCurrency, fromNetwork, toCurrency, toNetwork })).toBe(same ? 'direct' : 'exchange');
        // Symmetric: the route of a pair does not depend on which side is which.
        expect(payoutRouteOf({ fromCurrency: toCurrency, fromNetwork: toNetwork, toCurrency: fromCurrency, toNetwork: fromNetwork })).toBe(same ? 'direct' : 'exchange');
      }),
    );
  });
});
