// EIP-1559 fees for one transfer, from the node's view of the chain and the operator's caps. Pure.
//
// What a transaction pays per gas is base fee + tip (at most its max fee). The tip is the node's
// suggestion, cut to CHAIN_MAX_PRIORITY_FEE_GWEI (a smaller tip is only slower). The max fee is the
// usual 2 × base fee + tip — headroom for the base fee to rise ~12.5 % per full block for six
// blocks — cut to CHAIN_MAX_FEE_PER_GAS_GWEI. When even base fee + tip is above the cap, the
// transaction could not be mined now without paying more than the operator allows: the transfer
// waits, with the reason recorded, instead of overpaying.
import { formatUnits } from 'ethers';
import { gweiScale } from '../../core/money.ts';
import type { FeeCaps } from './chain-settings.ts';

export interface FeeMarket {
  readonly baseFeePerGasWei: bigint;
  readonly suggestedPriorityFeePerGasWei: bigint;
}

export type FeeDecision =
  | { readonly kind: 'ready'; readonly maxFeePerGasWei: bigint; readonly maxPriorityFeePerGasWei: bigint }
  | { readonly kind: 'wait'; readonly reason: string };

export function gweiText(wei: bigint): string {
  return `${formatUnits(wei, gweiScale)} gwei`;
}

/** How every "waiting for the fee" reason starts. */
export const feeAboveCapPrefix = 'fee above cap:';

export function planFees(market: FeeMarket, caps: FeeCaps): FeeDecision {
  const priority = market.suggestedPriorityFeePerGasWei < caps.maxPriorityFeePerGasWei ? market.suggestedPriorityFeePerGasWei : caps.maxPriorityFeePerGasWei;
  const payableNow = market.baseFeePerGasWei + priority;
  if (payableNow > caps.maxFeePerGasWei) {
    return {
      kind: 'wait',
      reason:
        `${feeAboveCapPrefix} the node's fee is ${gweiText(payableNow)} (base fee ${gweiText(market.baseFeePerGasWei)} + tip ${gweiText(priority)}), ` +
        `above CHAIN_MAX_FEE_PER_GAS_GWEI ${gweiText(caps.maxFeePerGasWei)}; waiting for the fee to fall or the cap to be raised`,
    };
  }
  const wanted = 2n * market.baseFeePerGasWei + priority;
  return {
    kind: 'ready',
    maxFeePerGasWei: wanted < caps.maxFeePerGasWei ? wanted : caps.maxFeePerGasWei,
    maxPriorityFeePerGasWei: priority,
  };
}

/**
 * The share by which a replacement must raise BOTH the max fee and the tip over the transaction it
 * replaces at the same nonce: geth's default `txpool.pricebump` and Hardhat's (EDR) mempool rule
 * are 10 %; a smaller raise is refused as "replacement transaction underpriced".
 */
export const replacementBumpPercent = 10n;

/** The smallest fee a node takes as a replacement of `previousWei`: +10 %, rounded up. */
export function minimumReplacementFee(previousWei: bigint): bigint {
  const raised = previousWei * (100n + replacementBumpPercent);
  return raised % 100n === 0n ? raised / 100n : raised / 100n + 1n;
}

export interface SignedFees {
  readonly maxFeePerGasWei: bigint;
  readonly maxPriorityFeePerGasWei: bigint;
}

function larger(left: bigint, right: bigint): bigint {
  return left > right ? left : right;
}

/**
 * Fees for a transaction that replaces `previous` at the same nonce (a fee bump of the same
 * payment, or the zero-value self-transfer that cancels a refused one): at least the node's
 * replacement minimum on both fees, and at least what a new transaction would offer now, within
 * both caps. When the minimum itself is above a cap, nothing can replace it without overpaying:
 * the caller waits, with the reason, for the fee to fall or the cap to be raised.
 */
export function planReplacementFees(previous: SignedFees, market: FeeMarket, caps: FeeCaps): FeeDecision {
  const tipMinimum = minimumReplacementFee(previous.maxPriorityFeePerGasWei);
  const maxFeeMinimum = minimumReplacementFee(previous.maxFeePerGasWei);
  if (tipMinimum > caps.maxPriorityFeePerGasWei) {
    return {
      kind: 'wait',
      reason:
        `${feeAboveCapPrefix} a replacement needs a tip of at least ${gweiText(tipMinimum)} (+${replacementBumpPercent} % over ${gweiText(previous.maxPriorityFeePerGasWei)}), ` +
        `above CHAIN_MAX_PRIORITY_FEE_GWEI ${gweiText(caps.maxPriorityFeePerGasWei)}`,
    };
  }
  const marketTip = market.suggestedPriorityFeePerGasWei < caps.maxPriorityFeePerGasWei ? market.suggestedPriorityFeePerGasWei : caps.maxPriorityFeePerGasWei;
  const tip = larger(tipMinimum, marketTip);
  const floor = larger(maxFeeMinimum, market.baseFeePerGasWei + tip);
  if (floor > caps.maxFeePerGasWei) {
    return {
      kind: 'wait',
      reason:
        `${feeAboveCapPrefix} a replacement needs a max fee of at least ${gweiText(floor)} (+${replacementBumpPercent} % over ${gweiText(previous.maxFeePerGasWei)}, ` +
        `and above base fee ${gweiText(market.baseFeePerGasWei)} + tip ${gweiText(tip)}), above CHAIN_MAX_FEE_PER_GAS_GWEI ${gweiText(caps.maxFeePerGasWei)}`,
    };
  }
  const wanted = larger(floor, 2n * market.baseFeePerGasWei + tip);
  return { kind: 'ready', maxFeePerGasWei: wanted < caps.maxFeePerGasWei ? wanted : caps.maxFeePerGasWei, maxPriorityFeePerGasWei: tip };
}
