// EIP-1559 fees for one transfer, from the node's view of the chain and the operator's caps. Pure.
//
// What a transaction pays per gas is base fee + tip (at most its max fee). The tip is the node's
// suggestion, cut to CHAIN_MAX_PRIORITY_FEE_GWEI (a smaller tip is only slower). The max fee is the
// usual 2 × base fee + tip — headroom for the base fee to rise ~12.5 % per full block for six
// blocks — cut to CHAIN_MAX_FEE_PER_GAS_GWEI. When even base fee + tip is above the cap, the
// transaction could not be mined now without paying more than the operator allows: the transfer
// waits, with the reason recorded, instead of overpaying.
import { formatUnits } from 'ethers';
import type { FeeCaps } from './chain-settings.ts';

export interface FeeMarket {
  readonly baseFeePerGasWei: bigint;
  readonly suggestedPriorityFeePerGasWei: bigint;
}

export type FeeDecision =
  | { readonly kind: 'ready'; readonly maxFeePerGasWei: bigint; readonly maxPriorityFeePerGasWei: bigint }
  | { readonly kind: 'wait'; readonly reason: string };

export function gweiText(wei: bigint): string {
  return `${formatUnits(wei, 'gwei')} gwei`;
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
