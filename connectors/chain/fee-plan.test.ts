// Proves the EIP-1559 fee plan never exceeds the operator's caps and never produces a transaction
// that could not be mined at the current base fee: it either waits with a reason naming the
// numbers, or offers fees with base fee + tip ≤ max fee ≤ cap and tip ≤ tip cap; and that a replacement
// at the same nonce raises both fees by the node's +10 % within the same caps, or waits naming them.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gweiToWei } from './chain-settings.ts';
import { minimumReplacementFee, planFees, planReplacementFees } from './fee-plan.ts';

const gwei = 1_000_000_000n;

describe('planFees, by example', () => {
  it('takes the usual 2 × base fee + tip when it is under the cap', () => {
    const plan = planFees({ baseFeePerGasWei: 10n * gwei, suggestedPriorityFeePerGasWei: 1n * gwei }, { maxFeePerGasWei: 300n * gwei, maxPriorityFeePerGasWei: 3n * gwei });
    expect(plan).toEqual({ kind: 'ready', maxFeePerGasWei: 21n * gwei, maxPriorityFeePerGasWei: 1n * gwei });
  });

  it('cuts the tip to its cap and the max fee to its cap while base fee + tip still fits', () => {
    const plan = planFees({ baseFeePerGasWei: 100n * gwei, suggestedPriorityFeePerGasWei: 5n * gwei }, { maxFeePerGasWei: 150n * gwei, maxPriorityFeePerGasWei: 2n * gwei });
    expect(plan).toEqual({ kind: 'ready', maxFeePerGasWei: 150n * gwei, maxPriorityFeePerGasWei: 2n * gwei });
  });

  it('waits, naming the node fee and the cap, when base fee + tip is above the cap', () => {
    const plan = planFees({ baseFeePerGasWei: 7n, suggestedPriorityFeePerGasWei: 1n * gwei }, { maxFeePerGasWei: gwei / 2n, maxPriorityFeePerGasWei: 3n * gwei });
    expect(plan.kind).toBe('wait');
    expect(plan.kind === 'wait' && plan.reason).toBe(
      "fee above cap: the node's fee is 1.000000007 gwei (base fee 0.000000007 gwei + tip 1.0 gwei), above CHAIN_MAX_FEE_PER_GAS_GWEI 0.5 gwei; waiting for the fee to fall or the cap to be raised",
    );
  });
});

describe('planFees, for any market and caps', () => {
  const wei = fc.bigInt({ min: 0n, max: 10_000n * gwei });
  it('is within the caps and payable at the current base fee, or waits exactly when it cannot be', () => {
    fc.assert(
      fc.property(wei, wei, wei, wei, (baseFee, suggested, maxFeeCap, tipCap) => {
        const plan = planFees({ baseFeePerGasWei: baseFee, suggestedPriorityFeePerGasWei: suggested }, { maxFeePerGasWei: maxFeeCap, maxPriorityFeePerGasWei: tipCap });
        const tip = suggested < tipCap ? suggested : tipCap;
        if (baseFee + tip > maxFeeCap) {
          expect(plan.kind).toBe('wait');
          return;
        }
        expect(plan.kind).toBe('ready');
        if (plan.kind !== 'ready') return;
        expect(plan.maxPriorityFeePerGasWei).toBe(tip);
        expect(plan.maxFeePerGasWei <= maxFeeCap).toBe(true);
        expect(plan.maxFeePerGasWei >= baseFee + plan.maxPriorityFeePerGasWei).toBe(true);
      }),
    );
  });
});

describe('gweiToWei', () => {
  it('reads decimal gwei exactly and refuses fractions of a wei, naming the variable', () => {
    expect(gweiToWei('300', 'X')).toBe(300n * gwei);
    expect(gweiToWei('0.000000001', 'X')).toBe(1n);
    expect(gweiToWei('2.5', 'X')).toBe(2_500_000_000n);
    expect(() => gweiToWei('0.0000000001', 'CHAIN_MAX_FEE_PER_GAS_GWEI')).toThrow(/CHAIN_MAX_FEE_PER_GAS_GWEI: 0.0000000001 gwei is not a whole number of wei/);
  });
});

describe('planReplacementFees', () => {
  const caps = { maxFeePerGasWei: 300n * gwei, maxPriorityFeePerGasWei: 3n * gwei };

  it('raises both fees by at least 10 %, rounded up, when the market is lower', () => {
    expect(minimumReplacementFee(1_000_000_001n)).toBe(1_100_000_002n);
    expect(minimumReplacementFee(10n)).toBe(11n);
    const plan = planReplacementFees({ maxFeePerGasWei: 21n * gwei, maxPriorityFeePerGasWei: 1n * gwei }, { baseFeePerGasWei: 7n, suggestedPriorityFeePerGasWei: 1n * gwei }, caps);
    expect(plan).toEqual({ kind: 'ready', maxFeePerGasWei: 23_100_000_000n, maxPriorityFeePerGasWei: 1_100_000_000n });
  });

  it('follows a base fee that rose, as a new transaction would', () => {
    const plan = planReplacementFees({ maxFeePerGasWei: 3n * gwei, maxPriorityFeePerGasWei: 1n * gwei }, { baseFeePerGasWei: 50n * gwei, suggestedPriorityFeePerGasWei: 2n * gwei }, caps);
    expect(plan).toEqual({ kind: 'ready', maxFeePerGasWei: 102n * gwei, maxPriorityFeePerGasWei: 2n * gwei });
  });

  it('waits, naming the cap, when the 10 % raise itself is above a cap', () => {
    const plan = planReplacementFees({ maxFeePerGasWei: 290n * gwei, maxPriorityFeePerGasWei: 1n * gwei }, { baseFeePerGasWei: 7n, suggestedPriorityFeePerGasWei: 1n * gwei }, caps);
    expect(plan.kind === 'wait' && plan.reason).toMatch(/^fee above cap: a replacement needs a max fee of at least 319\.0 gwei .* above CHAIN_MAX_FEE_PER_GAS_GWEI 300\.0 gwei$/);
    const tipPlan = planReplacementFees({ maxFeePerGasWei: 10n * gwei, maxPriorityFeePerGasWei: 3n * gwei }, { baseFeePerGasWei: 7n, suggestedPriorityFeePerGasWei: 1n * gwei }, caps);
    expect(tipPlan.kind === 'wait' && tipPlan.reason).toMatch(/tip of at least 3\.3 gwei .* above CHAIN_MAX_PRIORITY_FEE_GWEI 3\.0 gwei$/);
  });

  it('property: a ready replacement clears the node\'s +10 % rule on both fees and stays within both caps', () => {
    const wei = fc.bigInt({ min: 0n, max: 400n * gwei });
    fc.assert(
      fc.property(wei, wei, wei, wei, (maxFee, tip, baseFee, suggested) => {
        const previous = { maxFeePerGasWei: maxFee + tip + 1n, maxPriorityFeePerGasWei: tip };
        const plan = planReplacementFees(previous, { baseFeePerGasWei: baseFee, suggestedPriorityFeePerGasWei: suggested }, caps);
        if (plan.kind === 'wait') return;
        expect(plan.maxFeePerGasWei * 10n).toBeGreaterThanOrEqual(previous.maxFeePerGasWei * 11n);
        expect(plan.maxPriorityFeePerGasWei * 10n).toBeGreaterThanOrEqual(previous.maxPriorityFeePerGasWei * 11n);
        expect(plan.maxFeePerGasWei).toBeLessThanOrEqual(caps.maxFeePerGasWei);
        expect(plan.maxPriorityFeePerGasWei).toBeLessThanOrEqual(caps.maxPriorityFeePerGasWei);
        expect(plan.maxFeePerGasWei).toBeGreaterThanOrEqual(baseFee + plan.maxPriorityFeePerGasWei);
      }),
    );
  });
});
