// What a direct payout's transfer costs, in USDT (pure). A direct payout (core/payout-route.ts) is
// one transaction from the host wallet, so its only fee is gas, paid in ETH:
//
//   fee = gas of the transfer × gas price, in ETH, × USDT per ETH, rounded up to a USDT base unit.
//
// - Gas of the transfer: 21,000 for ETH (the chain connector's own figure); 65,000 for an ERC-20
//   transfer — what a USDT transfer to a holder without a balance takes on Ethereum (~63,000 for
//   Tether's contract; a recipient that already holds some costs less), so the floor errs on the
//   side of waiting, not of wasting fees.
// - Gas price: what the chain connector will pay per gas — the latest block's base fee plus the
//   node's suggested tip capped at CHAIN_MAX_PRIORITY_FEE_GWEI (connectors/chain/fee-plan.ts).
// - USDT per ETH: the rate of the most recent finished conversion (USDT received / ETH sent). That
//   is what the pipeline itself got for ETH, and there is always one when a USDT credit exists to
//   pay. ChangeNow's eth→usdt estimate is not used: an amount the size of a gas bill is far below
//   its minimum, and for a larger amount its fixed network fee would distort the rate.
import { assertInvariant } from '../../core/errors.ts';
import { Decimal, ethScale, fromBaseUnits, usdtScale } from '../../core/money.ts';
import type { TransferAsset } from '../../schemas/generated/records.ts';
import { ethTransferGas } from '../../connectors/chain/transfer-transaction.ts';

/** Gas of an ERC-20 transfer to an address that holds none of the token yet (the costlier case). */
export const erc20TransferGas = 65_000n;

export function transferGasOf(asset: TransferAsset): bigint {
  return asset === 'ETH' ? ethTransferGas : erc20TransferGas;
}

export interface TransferFeeInputs {
  readonly gasUnits: bigint;
  readonly gasPriceWei: bigint;
  readonly usdtPerEth: Decimal;
}

/** The fee in USDT, rounded up to 10^-6: an estimate used to hold a payout should not understate. */
export function transferFeeUsdt(inputs: TransferFeeInputs): Decimal {
  assertInvariant(inputs.gasUnits > 0n && inputs.gasPriceWei >= 0n, 'gas and its price are not negative', { gasUnits: inputs.gasUnits.toString(), gasPriceWei: inputs.gasPriceWei.toString() });
  assertInvariant(inputs.usdtPerEth.isPositive() && !inputs.usdtPerEth.isZero(), 'USDT per ETH is positive', { usdtPerEth: inputs.usdtPerEth.toFixed() });
  const feeEth = fromBaseUnits(inputs.gasUnits * inputs.gasPriceWei, ethScale);
  return feeEth.times(inputs.usdtPerEth).toDecimalPlaces(usdtScale, Decimal.ROUND_UP);
}

/** Base fee + tip capped at the operator's cap: the price per gas the chain connector will pay. */
export function gasPriceWeiOf(baseFeePerGasWei: bigint, suggestedPriorityFeePerGasWei: bigint, maxPriorityFeePerGasWei: bigint): bigint {
  return baseFeePerGasWei + (suggestedPriorityFeePerGasWei < maxPriorityFeePerGasWei ? suggestedPriorityFeePerGasWei : maxPriorityFeePerGasWei);
}
