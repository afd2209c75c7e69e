// Proves the balance check refuses exactly the transfers the wallet cannot cover — counting the
// worst-case gas and what transfers already signed but not mined will still spend — and that a
// refusal names both the need and what is available.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkFunding, checkTokenFunding, worstCaseEthOf, type TransferCost, type WalletSnapshot } from './funding-check.ts';

const ether = 10n ** 18n;
const gwei = 10n ** 9n;
const usdt = 10n ** 6n;

const wallet = (overrides: Partial<WalletSnapshot> = {}): WalletSnapshot => ({
  ethBalanceWei: 10n * ether,
  usdtBalanceBaseUnits: 100n * usdt,
  pendingEthWei: 0n,
  pendingUsdtBaseUnits: 0n,
  ...overrides,
});

describe('checkFunding, by example', () => {
  it('funds an ETH transfer of the balance minus its worst-case gas, and not one wei more', () => {
    const gasWei = 21_000n * 2n * gwei;
    const exact: TransferCost = { asset: 'ETH', amountBaseUnits: 10n * ether - gasWei, gasLimit: 21_000n, maxFeePerGasWei: 2n * gwei };
    expect(checkFunding(exact, wallet())).toEqual({ kind: 'funded' });
    expect(checkFunding({ ...exact, amountBaseUnits: exact.amountBaseUnits + 1n }, wallet()).kind).toBe('refused');
  });

  it('refuses ETH with both numbers, and says how much transfers in flight hold', () => {
    const decision = checkFunding({ asset: 'ETH', amountBaseUnits: 9n * ether, gasLimit: 21_000n, maxFeePerGasWei: 1n * gwei }, wallet({ pendingEthWei: 2n * ether }));
    expect(decision).toEqual({
      kind: 'refused',
      reason: 'insufficient_eth',
      message:
        'insufficient ETH: the transfer needs 9.000021 ETH (9.0 ETH + up to 0.000021 ETH gas) but the host wallet has 8.0 ETH available (balance 10.0 ETH − 2.0 ETH held by transfers in flight)',
    });
  });

  it('refuses USDT beyond the token balance left after transfers in flight, before looking at gas', () => {
    expect(checkTokenFunding('ETH', 10n ** 30n, wallet())).toEqual({ kind: 'funded' });
    const decision = checkTokenFunding('USDT', 60n * usdt, wallet({ pendingUsdtBaseUnits: 50n * usdt }));
    expect(checkFunding({ asset: 'USDT', amountBaseUnits: 60n * usdt, gasLimit: 60_000n, maxFeePerGasWei: 1n }, wallet({ pendingUsdtBaseUnits: 50n * usdt }))).toEqual(decision);
    expect(decision).toEqual({
      kind: 'refused',
      reason: 'insufficient_usdt',
      message: 'insufficient USDT: the transfer needs 60.0 USDT but the host wallet has 50.0 USDT available (balance 100.0 USDT − 50.0 USDT held by transfers in flight)',
    });
  });

  it('refuses a USDT transfer the wallet has tokens for but no ETH to pay the gas', () => {
    const decision = checkFunding({ asset: 'USDT', amountBaseUnits: 1n * usdt, gasLimit: 60_000n, maxFeePerGasWei: 10n * gwei }, wallet({ ethBalanceWei: 1n }));
    expect(decision.kind === 'refused' && decision.reason).toBe('insufficient_eth');
    expect(decision.kind === 'refused' && decision.message).toBe('insufficient ETH: the transfer needs up to 0.0006 ETH for gas but the host wallet has 0.000000000000000001 ETH available');
  });
});

describe('checkFunding, for any wallet and transfer', () => {
  const amount = fc.bigInt({ min: 1n, max: 10n ** 24n });
  it('funds exactly when the available balances cover the worst case', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ETH' as const, 'USDT' as const),
        amount,
        fc.bigInt({ min: 21_000n, max: 1_000_000n }),
        fc.bigInt({ min: 1n, max: 1_000n * gwei }),
        amount,
        amount,
        fc.bigInt({ min: 0n, max: 10n ** 24n }),
        fc.bigInt({ min: 0n, max: 10n ** 24n }),
        (asset, amountBaseUnits, gasLimit, maxFeePerGasWei, ethBalanceWei, usdtBalanceBaseUnits, pendingEthWei, pendingUsdtBaseUnits) => {
          const cost = { asset, amountBaseUnits, gasLimit, maxFeePerGasWei };
          const snapshot = { ethBalanceWei, usdtBalanceBaseUnits, pendingEthWei, pendingUsdtBaseUnits };
          const ethCovered = ethBalanceWei - pendingEthWei >= worstCaseEthOf(cost);
          const usdtCovered = asset === 'ETH' || usdtBalanceBaseUnits - pendingUsdtBaseUnits >= amountBaseUnits;
          expect(checkFunding(cost, snapshot).kind).toBe(ethCovered && usdtCovered ? 'funded' : 'refused');
        },
      ),
    );
  });
});
