// Proves the platform fee is exact: net + fee = gross to the last digit for any amount and percent
// the ledger can hold, the fee is rounded once half-to-even at the column's scale, nothing is ever
// negative, and amounts the ledger would refuse crash instead of being written.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal, ethScale, usdScale } from '../../core/money.ts';
import { InvariantViolation, PipelineError } from '../../core/errors.ts';
import { applyPlatformFee, parseFeePercent, splitFee } from './platform-fee.ts';

const d = (text: string): Decimal => new Decimal(text);

/** A positive amount with at most `scale` decimals and at most 20 integer digits (the ledger's columns). */
function amount(scale: number): fc.Arbitrary<Decimal> {
  const max = 10n ** BigInt(20 + scale) - 1n;
  return fc
    .oneof(fc.bigInt({ min: 1n, max: 10n ** BigInt(scale + 4) }), fc.bigInt({ min: 1n, max }))
    .map((unscaled) => new Decimal(`${unscaled}e-${scale}`));
}

/** 0 ≤ percent < 100 with at most 6 decimals, biased toward the usual whole and half percents. */
const feePercent: fc.Arbitrary<Decimal> = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map((whole) => new Decimal(whole)),
  fc.integer({ min: 0, max: 199 }).map((halves) => new Decimal(halves).dividedBy(2)),
  fc.integer({ min: 0, max: 99_999_999 }).map((unscaled) => new Decimal(`${unscaled}e-6`)),
);

describe('applyPlatformFee, by example', () => {
  it.each([
    { gross: '50.00', percent: '3', fee: '1.5', net: '48.5' },
    { gross: '49.99', percent: '3', fee: '1.4997', net: '48.4903' },
    { gross: '100', percent: '2.5', fee: '2.5', net: '97.5' },
    { gross: '19.99', percent: '0', fee: '0', net: '19.99' },
    // Exactly half a unit at the 9th decimal: half-to-even rounds to the even neighbour.
    { gross: '0.0000005', percent: '1', fee: '0', net: '0.0000005' },
    { gross: '0.0000015', percent: '1', fee: '0.00000002', net: '0.00000148' },
    { gross: '0.00000001', percent: '3', fee: '0', net: '0.00000001' },
  ])('$percent% of $$gross: fee $fee, net $net', ({ gross, percent, fee, net }) => {
    const result = applyPlatformFee({ usdGross: d(gross), ethGross: d('1'), feePercent: d(percent) });
    expect(result.usd.fee.toFixed()).toBe(d(fee).toFixed());
    expect(result.usd.net.toFixed()).toBe(d(net).toFixed());
  });

  it('takes the ETH side at 18 decimals', () => {
    const result = applyPlatformFee({ usdGross: d('49.99'), ethGross: d('0.021087000000000001'), feePercent: d('3') });
    // 0.00063261000000000003 exactly; the 20th decimal is dropped, half-to-even.
    expect(result.eth.fee.toFixed()).toBe('0.00063261');
    expect(result.eth.net.toFixed()).toBe('0.020454390000000001');
  });

  it('crashes when the fee would consume the whole amount, the amount has too many decimals, or the percent is out of range', () => {
    expect(() => applyPlatformFee({ usdGross: d('0.00000001'), ethGross: d('1'), feePercent: d('60') })).toThrow(InvariantViolation);
    expect(() => applyPlatformFee({ usdGross: d('1.000000001'), ethGross: d('1'), feePercent: d('3') })).toThrow(InvariantViolation);
    expect(() => applyPlatformFee({ usdGross: d('1'), ethGross: d('0.0000000000000000001'), feePercent: d('3') })).toThrow(InvariantViolation);
    expect(() => applyPlatformFee({ usdGross: d('0'), ethGross: d('1'), feePercent: d('3') })).toThrow(InvariantViolation);
    expect(() => applyPlatformFee({ usdGross: d('1'), ethGross: d('1'), feePercent: d('100') })).toThrow(InvariantViolation);
    expect(() => applyPlatformFee({ usdGross: d('1'), ethGross: d('1'), feePercent: d('-1') })).toThrow(InvariantViolation);
  });
});

describe('applyPlatformFee, for any amount and percent', () => {
  it('conserves exactly, never goes negative, rounds once to the scale and is within half a unit of the exact fee', () => {
    fc.assert(
      fc.property(amount(usdScale), amount(ethScale), feePercent, (usdGross, ethGross, percent) => {
        fc.pre(splitFee(usdGross, percent, usdScale).net.gt(0) && splitFee(ethGross, percent, ethScale).net.gt(0));
        const result = applyPlatformFee({ usdGross, ethGross, feePercent: percent });
        for (const [split, gross, scale] of [
          [result.usd, usdGross, usdScale],
          [result.eth, ethGross, ethScale],
        ] as const) {
          expect(split.net.plus(split.fee).eq(gross)).toBe(true);
          expect(split.fee.gte(0)).toBe(true);
          expect(split.net.gt(0)).toBe(true);
          expect(split.fee.decimalPlaces()).toBeLessThanOrEqual(scale);
          expect(split.net.decimalPlaces()).toBeLessThanOrEqual(scale);
          const exact = gross.times(percent).dividedBy(100);
          expect(split.fee.minus(exact).abs().lte(new Decimal(`0.5e-${scale}`))).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('is deterministic: the same payment always gives the same fee', () => {
    fc.assert(
      fc.property(amount(usdScale), amount(ethScale), feePercent, (usdGross, ethGross, percent) => {
        fc.pre(splitFee(usdGross, percent, usdScale).net.gt(0) && splitFee(ethGross, percent, ethScale).net.gt(0));
        const first = applyPlatformFee({ usdGross, ethGross, feePercent: percent });
        const second = applyPlatformFee({ usdGross: new Decimal(usdGross.toFixed()), ethGross: new Decimal(ethGross.toFixed()), feePercent: new Decimal(percent.toFixed()) });
        expect([second.usd.fee.toFixed(), second.eth.fee.toFixed()]).toEqual([first.usd.fee.toFixed(), first.eth.fee.toFixed()]);
      }),
    );
  });
});

describe('parseFeePercent', () => {
  it('reads the values the ledger can hold', () => {
    expect(parseFeePercent('3').toFixed()).toBe('3');
    expect(parseFeePercent('2.5').toFixed()).toBe('2.5');
    expect(parseFeePercent('0').toFixed()).toBe('0');
    expect(parseFeePercent('99.999999').toFixed()).toBe('99.999999');
  });

  it.each(['100', '150', '1.1234567', 'abc', '-1'])('refuses %s', (text) => {
    expect(() => parseFeePercent(text)).toThrow(PipelineError);
  });
});
