// Can the host wallet pay for one more transfer? Pure. Refusing here, before anything is signed,
// is what keeps a transfer from failing on chain (and burning gas) or being stuck in the node's
// pool with a nonce that blocks every later transfer.
//
// Available = the balance at one block − what our own transactions signed at or after the
// wallet's nonce at that same block will still spend (they are not in that balance yet). Gas is
// counted at its worst: gas limit × max fee per gas.
import { formatUnits } from 'ethers';
import { assetDecimals } from '../../core/money.ts';
import type { TransferAsset } from '../../schemas/generated/records.ts';

export interface WalletSnapshot {
  readonly ethBalanceWei: bigint;
  readonly usdtBalanceBaseUnits: bigint;
  /** Value + worst-case gas of our signed transactions not mined at the snapshot's block. */
  readonly pendingEthWei: bigint;
  readonly pendingUsdtBaseUnits: bigint;
}

export interface TransferCost {
  readonly asset: TransferAsset;
  readonly amountBaseUnits: bigint;
  readonly gasLimit: bigint;
  readonly maxFeePerGasWei: bigint;
}

export type RefusalReason = 'insufficient_eth' | 'insufficient_usdt';

export type FundingDecision = { readonly kind: 'funded' } | { readonly kind: 'refused'; readonly reason: RefusalReason; readonly message: string };

function eth(wei: bigint): string {
  return `${formatUnits(wei, assetDecimals.ETH)} ETH`;
}

function usdt(baseUnits: bigint): string {
  return `${formatUnits(baseUnits, assetDecimals.USDT)} USDT`;
}

/** Worst-case ETH a transfer takes from the wallet: its value (ETH transfers) and its gas. */
export function worstCaseEthOf(cost: TransferCost): bigint {
  const gasWei = cost.gasLimit * cost.maxFeePerGasWei;
  return cost.asset === 'ETH' ? cost.amountBaseUnits + gasWei : gasWei;
}

/** The token side alone (funded for ETH transfers): checked before the gas is even estimated. */
export function checkTokenFunding(asset: TransferAsset, amountBaseUnits: bigint, wallet: WalletSnapshot): FundingDecision {
  if (asset !== 'USDT') return { kind: 'funded' };
  const availableUsdt = wallet.usdtBalanceBaseUnits - wallet.pendingUsdtBaseUnits;
  if (availableUsdt >= amountBaseUnits) return { kind: 'funded' };
  const pendingNote = wallet.pendingUsdtBaseUnits === 0n ? '' : ` (balance ${usdt(wallet.usdtBalanceBaseUnits)} − ${usdt(wallet.pendingUsdtBaseUnits)} held by transfers in flight)`;
  return {
    kind: 'refused',
    reason: 'insufficient_usdt',
    message: `insufficient USDT: the transfer needs ${usdt(amountBaseUnits)} but the host wallet has ${usdt(availableUsdt)} available${pendingNote}`,
  };
}

export function checkFunding(cost: TransferCost, wallet: WalletSnapshot): FundingDecision {
  const token = checkTokenFunding(cost.asset, cost.amountBaseUnits, wallet);
  if (token.kind === 'refused') return token;
  const availableEth = wallet.ethBalanceWei - wallet.pendingEthWei;
  const gasWei = cost.gasLimit * cost.maxFeePerGasWei;
  const neededEth = worstCaseEthOf(cost);
  const pendingEthNote = wallet.pendingEthWei === 0n ? '' : ` (balance ${eth(wallet.ethBalanceWei)} − ${eth(wallet.pendingEthWei)} held by transfers in flight)`;
  if (availableEth < neededEth) {
    const what = cost.asset === 'ETH' ? `${eth(neededEth)} (${eth(cost.amountBaseUnits)} + up to ${eth(gasWei)} gas)` : `up to ${eth(gasWei)} for gas`;
    return {
      kind: 'refused',
      reason: 'insufficient_eth',
      message: `insufficient ETH: the transfer needs ${what} but the host wallet has ${eth(availableEth)} available${pendingEthNote}`,
    };
  }
  return { kind: 'funded' };
}
