// Proves the per-client window's decision without I/O: the three triggers and their order, the
// split above the cap (properties: every credit once, whole, in order, each batch within the cap
// unless it is one credit), waiting below the pair's minimum, the fee floor held unless max age or
// an operator forces the payout, and missing quotes asked for instead of guessed; and for a direct
// group (the pool's own usdt/eth), no exchange quote at all — only the split and the gas fee floor;
// and that a group's totals decide a group that is not due exactly as its credits would.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import type { CurrencyPair, ExchangeRange } from '../../connectors/changenow/changenow-client.ts';
import { splitCredits } from './payout-split.ts';
import { decideGroup, decideUndue, summaryOf, type PayoutWindowRules, type Quote, type QuoteBook, type WindowCredit, type WindowGroup } from './payout-window.ts';
import { retryAfterFailure } from './payout-retry.ts';

const dayMs = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
const rules: PayoutWindowRules = { maxAgeMs: 90 * dayMs, maxSwapUsdt: new Decimal(5_000), feeFloorPercent: new Decimal(2) };

function credit(id: string, usdt: string, ageDays = 1): WindowCredit {
  return { creditId: id, usdtAmount: new Decimal(usdt), creditedAt: new Date(now.getTime() - ageDays * dayMs) };
}

function group(credits: WindowCredit[], options: { threshold?: string | null; manual?: boolean; currency?: string; network?: string } = {}): WindowGroup {
  return {
    key: { clientId: '-1001', walletAddress: 'wallet', payoutCurrency: options.currency ?? 'xmr', payoutNetwork: options.network ?? 'xmr' },
    credits,
    thresholdUsd: options.threshold === null ? null : new Decimal(options.threshold ?? '500'),
    manual: options.manual ?? false,
  };
}

function quotes(
  range: Quote<ExchangeRange> | undefined,
  feeOf: (amount: Decimal) => Quote<Decimal> | undefined = () => ({ kind: 'known', value: new Decimal('1') }),
  transferFee: Quote<Decimal> | undefined = { kind: 'known', value: new Decimal('0.4') },
): QuoteBook {
  return { range: (_pair: CurrencyPair) => range, fee: (_pair, amount) => feeOf(amount), transferFee: () => transferFee };
}

/** A quote book that fails the test if the window asks an exchange anything. */
function directOnly(transferFee: Quote<Decimal> | undefined): QuoteBook {
  const asked = (what: string) => (): never => {
    throw new Error(`a direct payout asked the exchange for a ${what}`);
  };
  return { range: asked('range'), fee: asked('fee estimate'), transferFee: () => transferFee };
}

const wideRange: Quote<ExchangeRange> = { kind: 'known', value: { minAmount: new Decimal('10'), maxAmount: null } };

describe('triggers', () => {
  it('waits below the threshold and says how much is missing', () => {
    const decision = decideGroup(group([credit('a', '120'), credit('b', '130')]), rules, quotes(wideRange), now);
    expect(decision).toMatchObject({ trigger: null, payouts: [], hold: null, needs: [] });
    expect(decision.amountMissingUsdt?.eq(250)).toBe(true);
  });

  it('pays the whole group once it reaches the threshold', () => {
    const decision = decideGroup(group([credit('a', '250'), credit('b', '250')]), rules, quotes(wideRange), now);
    expect(decision.trigger).toBe('threshold');
    expect(decision.payouts.map((payout) => payout.credits.map((c) => c.creditId))).toEqual([['a', 'b']]);
    expect(decision.payouts[0]?.usdtAmount.eq(500)).toBe(true);
  });

  it('pays by max age once the oldest credit is PAYOUT_MAX_AGE old, even far below the threshold', () => {
    expect(decideGroup(group([credit('a', '20', 89.99)]), rules, quotes(wideRange), now).trigger).toBeNull();
    const decision = decideGroup(group([credit('old', '20', 90), credit('new', '5', 1)]), rules, quotes(wideRange), now);
    expect(decision.trigger).toBe('max_age');
    expect(decision.payouts).toHaveLength(1);
  });

  it('pays on an operator request, and a client without a threshold (now instant) at once', () => {
    expect(decideGroup(group([credit('a', '20')], { manual: true }), rules, quotes(wideRange), now).trigger).toBe('manual');
    expect(decideGroup(group([credit('a', '20')], { threshold: null }), rules, quotes(wideRange), now).trigger).toBe('threshold');
  });
});

describe('deciding from totals (the window reads credits of due groups only)', () => {
  it('decides a group from its totals exactly as from its credits, and leaves a due one to its credits', () => {
    const creditArb = fc.record({ cents: fc.integer({ min: 1, max: 100_000 }), ageDays: fc.integer({ min: 0, max: 120 }) });
    fc.assert(
      fc.property(fc.array(creditArb, { minLength: 1, maxLength: 20 }), fc.boolean(), fc.option(fc.integer({ min: 1, max: 5_000 })), (entries, manual, threshold) => {
        const credits = entries
          .map((entry, index) => credit(`c${index}`, new Decimal(entry.cents).div(100).toFixed(), entry.ageDays))
          .sort((left, right) => left.creditedAt.getTime() - right.creditedAt.getTime());
        const whole = group(credits, { manual, threshold: threshold === null ? null : String(threshold) });
        const fromCredits = decideGroup(whole, rules, quotes(wideRange), now);
        const fromTotals = decideUndue(summaryOf(whole), rules, now);
        if (fromCredits.trigger !== null) expect(fromTotals).toBeNull();
        else expect(fromTotals).toEqual(fromCredits);
      }),
    );
  });
});

describe('exchange limits and fees', () => {
  it('asks for the range first, then the fee estimates, and pays nothing until they are known', () => {
    const due = group([credit('a', '600')]);
    expect(decideGroup(due, rules, quotes(undefined), now)).toMatchObject({ payouts: [], needs: [{ kind: 'range' }] });
    const needsFee = decideGroup(due, rules, quotes(wideRange, () => undefined), now);
    expect(needsFee).toMatchObject({ payouts: [], needs: [{ kind: 'fee' }] });
  });

  it('waits below the pair minimum, even when forced', () => {
    const range: Quote<ExchangeRange> = { kind: 'known', value: { minAmount: new Decimal('30'), maxAmount: null } };
    const decision = decideGroup(group([credit('a', '20')], { manual: true }), rules, quotes(range), now);
    expect(decision.payouts).toEqual([]);
    expect(decision.hold).toMatchObject({ state: 'below_exchange_minimum' });
    expect(decision.hold?.minimumUsdt?.eq(30)).toBe(true);
  });

  it('splits above PAYOUT_MAX_SWAP_USD and above the pair maximum, whichever is lower', () => {
    const credits = Array.from({ length: 12 }, (_, index) => credit(`c${String(index).padStart(2, '0')}`, '1000'));
    const byRule = decideGroup(group(credits), rules, quotes(wideRange), now);
    expect(byRule.payouts.map((payout) => payout.usdtAmount.toFixed())).toEqual(['4000', '4000', '4000']);
    const lowMax: Quote<ExchangeRange> = { kind: 'known', value: { minAmount: new Decimal('10'), maxAmount: new Decimal('2500') } };
    const byPair = decideGroup(group(credits), rules, quotes(lowMax), now);
    expect(byPair.payouts.map((payout) => payout.usdtAmount.toFixed())).toEqual(['2000', '2000', '2000', '2000', '2000', '2000']);
    expect(byPair.payouts.flatMap((payout) => payout.credits.map((c) => c.creditId))).toEqual(credits.map((c) => c.creditId));
  });

  it('holds a lone credit above the pair maximum for an operator', () => {
    const lowMax: Quote<ExchangeRange> = { kind: 'known', value: { minAmount: new Decimal('10'), maxAmount: new Decimal('1000') } };
    const decision = decideGroup(group([credit('small', '900'), credit('huge', '1500')]), rules, quotes(lowMax), now);
    expect(decision.payouts.map((payout) => payout.credits.map((c) => c.creditId))).toEqual([['small']]);
    expect(decision.hold).toMatchObject({ state: 'above_exchange_maximum' });
    expect(decision.hold?.unpaidUsdt.eq(1500)).toBe(true);
  });

  it('holds a payout whose fees exceed the floor, unless max age or an operator forces it', () => {
    const fee = (amount: Decimal): Quote<Decimal> => ({ kind: 'known', value: amount.times('0.021') });
    const held = decideGroup(group([credit('a', '500')]), rules, quotes(wideRange, fee), now);
    expect(held.payouts).toEqual([]);
    expect(held.hold).toMatchObject({ state: 'fee_floor_not_met' });
    expect(held.hold?.estimatedFeeUsdt?.eq('10.5')).toBe(true);
    const atFloor = decideGroup(group([credit('a', '500')]), rules, quotes(wideRange, (amount) => ({ kind: 'known', value: amount.times('0.02') })), now);
    expect(atFloor.payouts).toHaveLength(1);
    expect(decideGroup(group([credit('a', '500')], { manual: true }), rules, quotes(wideRange, fee), now).payouts).toHaveLength(1);
    expect(decideGroup(group([credit('a', '500', 91)]), rules, quotes(wideRange, fee), now).payouts).toHaveLength(1);
  });

  it('shows an unavailable quote as a hold instead of waiting silently', () => {
    const decision = decideGroup(group([credit('a', '500')]), rules, quotes({ kind: 'unavailable', error: 'pair_is_inactive' }), now);
    expect(decision.hold).toMatchObject({ state: 'quote_unavailable' });
    expect(decision.hold?.reason).toContain('pair_is_inactive');
  });
});

describe('direct payouts: the pool’s USDT to a usdt/eth wallet', () => {
  const usdt = { currency: 'usdt', network: 'eth' };
  const gas = (usdtFee: string): Quote<Decimal> => ({ kind: 'known', value: new Decimal(usdtFee) });

  it('pays at the threshold without asking an exchange for a range or a fee', () => {
    const decision = decideGroup(group([credit('a', '250'), credit('b', '260')], usdt), rules, directOnly(gas('0.4')), now);
    expect(decision).toMatchObject({ trigger: 'threshold', hold: null, needs: [] });
    expect(decision.payouts.map((payout) => payout.usdtAmount.toFixed())).toEqual(['510']);
  });

  it('asks for the transfer’s gas cost first, and pays nothing until it is known', () => {
    const decision = decideGroup(group([credit('a', '600')], usdt), rules, directOnly(undefined), now);
    expect(decision).toMatchObject({ payouts: [], hold: null, needs: [{ kind: 'transfer_fee', pair: { fromCurrency: 'usdt', toCurrency: 'usdt', toNetwork: 'eth' } }] });
  });

  it('has no exchange minimum: a small forced payout pays', () => {
    const decision = decideGroup(group([credit('a', '0.5')], { ...usdt, manual: true }), rules, directOnly(undefined), now);
    expect(decision.payouts.map((payout) => payout.usdtAmount.toFixed())).toEqual(['0.5']);
    expect(decision.hold).toBeNull();
  });

  it('still splits at PAYOUT_MAX_SWAP_USD, and pays a lone credit above it whole (no exchange maximum)', () => {
    const credits = Array.from({ length: 12 }, (_, index) => credit(`c${String(index).padStart(2, '0')}`, '1000'));
    const split = decideGroup(group(credits, usdt), rules, directOnly(gas('0.4')), now);
    expect(split.payouts.map((payout) => payout.usdtAmount.toFixed())).toEqual(['4000', '4000', '4000']);
    const huge = decideGroup(group([credit('huge', '7500')], usdt), rules, directOnly(gas('0.4')), now);
    expect(huge.payouts.map((payout) => payout.usdtAmount.toFixed())).toEqual(['7500']);
    expect(huge.hold).toBeNull();
  });

  it('holds a threshold payout whose gas exceeds the fee floor, and pays it when forced', () => {
    const held = decideGroup(group([credit('a', '500')], usdt), rules, directOnly(gas('10.5')), now);
    expect(held.payouts).toEqual([]);
    expect(held.hold).toMatchObject({ state: 'fee_floor_not_met' });
    expect(held.hold?.estimatedFeeUsdt?.eq('10.5')).toBe(true);
    expect(decideGroup(group([credit('a', '500')], usdt), rules, directOnly(gas('10')), now).payouts).toHaveLength(1);
    expect(decideGroup(group([credit('a', '500')], { ...usdt, manual: true }), rules, directOnly(gas('10.5')), now).payouts).toHaveLength(1);
    expect(decideGroup(group([credit('a', '500', 91)], usdt), rules, directOnly(gas('10.5')), now).payouts).toHaveLength(1);
  });

  it('shows an unknown gas cost as quote_unavailable on a threshold payout, and never holds a forced one for it', () => {
    const unknown: Quote<Decimal> = { kind: 'unavailable', error: 'eth_getBlockByNumber: unreachable' };
    const held = decideGroup(group([credit('a', '500')], usdt), rules, directOnly(unknown), now);
    expect(held.payouts).toEqual([]);
    expect(held.hold).toMatchObject({ state: 'quote_unavailable' });
    expect(held.hold?.reason).toContain('gas');
    expect(decideGroup(group([credit('a', '500')], { ...usdt, manual: true }), rules, directOnly(unknown), now).payouts).toHaveLength(1);
    expect(decideGroup(group([credit('a', '20', 90)], usdt), rules, directOnly(unknown), now).payouts).toHaveLength(1);
  });

  it('keeps USDT on another network on the exchange route, with its range', () => {
    const decision = decideGroup(group([credit('a', '600')], { currency: 'usdt', network: 'trx' }), rules, quotes(undefined), now);
    expect(decision).toMatchObject({ payouts: [], needs: [{ kind: 'range', pair: { toCurrency: 'usdt', toNetwork: 'trx' } }] });
  });

  it('pays every due direct group whole or in batches within the cap, whatever the credits and trigger', () => {
    const amounts = fc.array(fc.bigInt({ min: 1n, max: 9_000_000_000n }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(amounts, fc.boolean(), (units, manual) => {
        const credits = units.map((unit, index) => ({ creditId: `c${String(index).padStart(3, '0')}`, usdtAmount: new Decimal(unit.toString()).div(1_000_000), creditedAt: now }));
        const decision = decideGroup(group(credits, { ...usdt, manual, threshold: '50' }), rules, directOnly(gas('0')), now);
        if (decision.trigger === null) return;
        expect(decision.hold).toBeNull();
        expect(decision.payouts.flatMap((payout) => payout.credits)).toEqual(credits);
        for (const payout of decision.payouts) expect(payout.usdtAmount.lte(rules.maxSwapUsdt) || payout.credits.length === 1).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('splitting', () => {
  const creditsArb = fc
    .array(fc.bigInt({ min: 1n, max: 8_000_000_000n }), { minLength: 1, maxLength: 60 })
    .map((units) => units.map((unit, index) => ({ creditId: `c${String(index).padStart(3, '0')}`, usdtAmount: new Decimal(unit.toString()).div(1_000_000) })));
  const capArb = fc.bigInt({ min: 1_000_000n, max: 10_000_000_000n }).map((units) => new Decimal(units.toString()).div(1_000_000));

  it('keeps every credit exactly once, whole and in order, each batch within the cap unless it is a single credit', () => {
    fc.assert(
      fc.property(creditsArb, capArb, (credits, cap) => {
        const batches = splitCredits(credits, cap);
        expect(batches.flatMap((batch) => batch.credits)).toEqual(credits);
        for (const batch of batches) {
          expect(batch.credits.length).toBeGreaterThan(0);
          expect(batch.usdtAmount.eq(batch.credits.reduce((sum, c) => sum.plus(c.usdtAmount), new Decimal(0)))).toBe(true);
          expect(batch.usdtAmount.lte(cap) || batch.credits.length === 1).toBe(true);
        }
        const total = credits.reduce((sum, c) => sum.plus(c.usdtAmount), new Decimal(0));
        if (total.lte(cap)) expect(batches).toHaveLength(1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('retry schedule', () => {
  it('backs off PAYOUT_RETRY_BACKOFF × 2^attempts and stops after PAYOUT_RETRY_ATTEMPTS_MAX retries', () => {
    const retry = { attemptsMax: 3, backoffMs: 60_000 };
    const failedAt = new Date('2026-01-01T00:00:00Z');
    expect(retryAfterFailure(0, failedAt, retry)).toEqual({ kind: 'retry', at: new Date('2026-01-01T00:01:00Z') });
    expect(retryAfterFailure(2, failedAt, retry)).toEqual({ kind: 'retry', at: new Date('2026-01-01T00:04:00Z') });
    expect(retryAfterFailure(3, failedAt, retry)).toEqual({ kind: 'exhausted' });
  });
});
