import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { createLogger } from '../../core/logger.ts';
import type { CurrencyPair } from '../../connectors/changenow/changenow-api.ts';
import { createQuoteCache, type PayoutQuoteSource } from './payout-quotes.ts';
import type { QuoteNeed } from './payout-window.ts';

const log = createLogger({ name: 'payout-quotes-test', level: 'silent' });
const pairTo = (toCurrency: string): CurrencyPair => ({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency, toNetwork: toCurrency });

/** ChangeNow's answers for the cache, counting the calls: an in-memory stand-in for the external service. */
function countingSource(): { source: PayoutQuoteSource; calls: string[] } {
  const calls: string[] = [];
  const source: PayoutQuoteSource = {
    range: (pair) => {
      calls.push(`range ${pair.toCurrency}`);
      return Promise.resolve({ minAmount: new Decimal('10'), maxAmount: null });
    },
    estimate: () => Promise.reject(new Error('not asked in these tests')),
  };
  return { source, calls };
}

describe('the payout quote cache', () => {
  const needs: QuoteNeed[] = ['btc', 'ltc', 'trx'].map((currency) => ({ kind: 'range', pair: pairTo(currency) }));
  const transferFees = (): Promise<Decimal> => Promise.reject(new Error('not asked in these tests'));

  it('fetches every missing quote once, then answers from the cache', async () => {
    const { source, calls } = countingSource();
    const cache = createQuoteCache({ source, transferFees, log, now: () => new Date('2026-12-03T00:00:00Z') });
    await cache.fetch(needs);
    await cache.fetch(needs);
    expect(calls).toEqual(['range btc', 'range ltc', 'range trx']);
    expect(cache.range(pairTo('ltc'))).toEqual({ kind: 'known', value: { minAmount: new Decimal('10'), maxAmount: null } });
  });

  it('stops fetching once the process drains, and leaves what it did not fetch unknown', async () => {
    const { source, calls } = countingSource();
    let draining = false;
    const cache = createQuoteCache({
      source: { ...source, range: (pair) => source.range(pair).finally(() => (draining = true)) },
      transferFees,
      log,
      now: () => new Date('2026-12-03T00:00:00Z'),
      stopped: () => draining,
    });
    await cache.fetch(needs);
    expect(calls).toEqual(['range btc']);
    expect(cache.range(pairTo('ltc'))).toBeUndefined();
  });
});
