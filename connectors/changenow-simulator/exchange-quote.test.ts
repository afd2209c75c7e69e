// Proves the simulator's pricing is exact and conservative: examples computed by hand for the pairs
// the pipeline uses, and properties over any amount — the quote never has more decimals than the
// to-currency, never exceeds the exact net value, misses it by less than one unit of the last
// decimal, and is never negative.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { checkRange, defaultRangeOf, quote, resolvePair, type ResolvedPair } from './exchange-quote.ts';
import { simulatedCurrencies, usdPriceOf } from './simulated-currencies.ts';

const d = (text: string): Decimal => new Decimal(text);
const rules = { ethUsd: d('3000'), feePercent: d('0.5') };

function pair(from: string, to: string): ResolvedPair {
  const [fromCurrency = '', fromNetwork = ''] = from.split('/');
  const [toCurrency = '', toNetwork = ''] = to.split('/');
  const resolved = resolvePair({ fromCurrency, fromNetwork, toCurrency, toNetwork });
  if ('inactive' in resolved) throw new Error(resolved.inactive);
  return resolved;
}

describe('quote, by example', () => {
  it.each([
    // 0.01 ETH × 3000 = 30 USDT; − 0.5 % = 29.85; − 0.5 network fee = 29.35.
    { from: 'eth/eth', to: 'usdt/eth', amount: '0.01', toAmount: '29.35', withdrawalFee: '0.5' },
    // 100 USDT / 3000 = 0.0333…; × 0.995 = 0.033166…; − 0.0002 = 0.032966… cut at 18 decimals.
    { from: 'usdt/eth', to: 'eth/eth', amount: '100', toAmount: '0.032966666666666666', withdrawalFee: '0.0002' },
    // 250 USDT / 150 = 1.666…; × 0.995 = 1.658333…; − 0.0001 = 1.658233… cut at 12 decimals.
    { from: 'usdt/eth', to: 'xmr/xmr', amount: '250', toAmount: '1.658233333333', withdrawalFee: '0.0001' },
    // 60 USDT / 60000 = 0.001; × 0.995 = 0.000995; − 0.00002 = 0.000975.
    { from: 'usdt/eth', to: 'btc/btc', amount: '60', toAmount: '0.000975', withdrawalFee: '0.00002' },
  ])('$amount $from → $toAmount $to', ({ from, to, amount, toAmount, withdrawalFee }) => {
    const quoted = quote(pair(from, to), d(amount), rules);
    expect(quoted.toAmount.toFixed()).toBe(toAmount);
    expect(quoted.withdrawalFee.toFixed()).toBe(withdrawalFee);
    expect(quoted.depositFee.isZero()).toBe(true);
    expect(quoted.fromAmount.toFixed()).toBe(amount);
  });

  it('quotes zero, not a negative amount, when the fees eat the deposit', () => {
    expect(quote(pair('usdt/eth', 'doge/doge'), d('0.05'), rules).toAmount.toFixed()).toBe('0');
  });
});

describe('quote, properties', () => {
  const payable = simulatedCurrencies.filter((currency) => currency.payableIn);
  const anyPair = fc
    .tuple(fc.constantFrom(...payable), fc.constantFrom(...simulatedCurrencies))
    .filter(([from, to]) => from !== to)
    .map(([from, to]) => ({ from, to }));
  const anyAmount = fc.bigInt({ min: 1n, max: 10n ** 30n }).chain((unscaled) => fc.integer({ min: 0, max: 18 }).map((scale) => new Decimal(`${unscaled}e-${scale}`)));
  const anyFee = fc.integer({ min: 0, max: 5_000 }).map((basisPoints) => new Decimal(basisPoints).dividedBy(100));

  it('is the exact net value rounded down to the to-currency decimals, never negative', () => {
    fc.assert(
      fc.property(anyPair, anyAmount, anyFee, (resolved, amount, feePercent) => {
        const quoted = quote(resolved, amount, { ethUsd: d('3000'), feePercent });
        const exact = amount
          .times(usdPriceOf(resolved.from, d('3000')))
          .dividedBy(usdPriceOf(resolved.to, d('3000')))
          .times(d('1').minus(feePercent.dividedBy(100)))
          .minus(resolved.to.withdrawalFee);
        const unit = new Decimal(1).dividedBy(new Decimal(10).pow(resolved.to.decimals));
        // Both sides divide by prices in a different order; at 100 significant digits they may
        // differ far below any currency's unit, never above it.
        const noise = new Decimal('1e-60');
        expect(quoted.toAmount.decimalPlaces()).toBeLessThanOrEqual(resolved.to.decimals);
        expect(quoted.toAmount.isNegative()).toBe(false);
        if (exact.lessThan(noise.negated())) expect(quoted.toAmount.isZero()).toBe(true);
        if (exact.greaterThan(noise)) {
          expect(quoted.toAmount.lessThanOrEqualTo(exact.plus(noise))).toBe(true);
          expect(exact.minus(quoted.toAmount).lessThan(unit)).toBe(true);
        }
      }),
    );
  });
});

describe('pairs and ranges', () => {
  it('trades only deposits the local chain carries, into a different currency', () => {
    expect('inactive' in resolvePair({ fromCurrency: 'btc', fromNetwork: 'btc', toCurrency: 'usdt', toNetwork: 'eth' })).toBe(true);
    expect('inactive' in resolvePair({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' })).toBe(true);
    expect('inactive' in resolvePair({ fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'nope', toNetwork: 'nope' })).toBe(true);
    expect('inactive' in resolvePair({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'trx' })).toBe(false);
  });

  it('has default ranges of 0.001–100 ETH and 10–20,000 USDT, with inclusive bounds', () => {
    const eth = defaultRangeOf(pair('eth/eth', 'usdt/eth').from);
    const usdt = defaultRangeOf(pair('usdt/eth', 'xmr/xmr').from);
    expect([eth.minAmount.toFixed(), eth.maxAmount?.toFixed()]).toEqual(['0.001', '100']);
    expect([usdt.minAmount.toFixed(), usdt.maxAmount?.toFixed()]).toEqual(['10', '20000']);
    expect(checkRange(usdt, d('10')).kind).toBe('within');
    expect(checkRange(usdt, d('20000')).kind).toBe('within');
    expect(checkRange(usdt, d('9.999999')).kind).toBe('below_minimum');
    expect(checkRange(usdt, d('20000.000001')).kind).toBe('above_maximum');
    expect(checkRange({ minAmount: d('1'), maxAmount: null }, d('1e30')).kind).toBe('within');
  });
});
