// Proves the direct payout's fee arithmetic without I/O: gas × price in wei valued at the last
// conversion's rate, rounded up to a USDT base unit (never below the exact cost, less than one base
// unit above it, by fast-check over wide ranges), the gas per asset, and the capped tip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { erc20TransferGas, gasPriceWeiOf, transferFeeUsdt, transferGasOf } from './transfer-fee.ts';

describe('a direct transfer’s fee in USDT', () => {
  it('values an ERC-20 transfer’s gas at the conversion rate: 65,000 gas × 20 gwei × 3,000 USDT/ETH = 3.9 USDT', () => {
    const fee = transferFeeUsdt({ gasUnits: transferGasOf('USDT'), gasPriceWei: 20_000_000_000n, usdtPerEth: new Decimal('3000') });
    expect(fee.toFixed()).toBe('3.9');
  });

  it('charges 21,000 gas for ETH and 65,000 for USDT', () => {
    expect(transferGasOf('ETH')).toBe(21_000n);
    expect(transferGasOf('USDT')).toBe(erc20TransferGas);
  });

  it('rounds up to 10^-6 USDT: never below the exact cost, less than one base unit above it', () => {
    const exactOf = (gasUnits: bigint, gasPriceWei: bigint, usdtPerEth: Decimal): Decimal => new Decimal((gasUnits * gasPriceWei).toString()).div(new Decimal(10).pow(18)).times(usdtPerEth);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10_000_000n }),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 1n, max: 10n ** 12n }).map((units) => new Decimal(units.toString()).div(1_000_000)),
        (gasUnits, gasPriceWei, usdtPerEth) => {
          const fee = transferFeeUsdt({ gasUnits, gasPriceWei, usdtPerEth });
          const exact = exactOf(gasUnits, gasPriceWei, usdtPerEth);
          expect(fee.decimalPlaces()).toBeLessThanOrEqual(6);
          expect(fee.gte(exact)).toBe(true);
          expect(fee.minus(exact).lt('0.000001')).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('pays the base fee plus the node’s tip, the tip cut to the operator’s cap', () => {
    expect(gasPriceWeiOf(10n, 2n, 3n)).toBe(12n);
    expect(gasPriceWeiOf(10n, 5n, 3n)).toBe(13n);
  });
});
