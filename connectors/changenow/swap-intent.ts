// What the connector will do for one command, decided from the command alone (pure): which
// exchange pair, how much, where the output goes, and how the pay-in is sent. A conversion swaps
// the batch's ETH into USDT paid to the host wallet; a payout swaps USDT (threshold) or ETH
// (instant) into the client's currency paid to the client's wallet. When the source asset already
// is the client's asset (core/payout-route.ts, the same rule settlement's window applies), there is
// nothing to exchange: the pay-in goes straight to the client.
import { assetDecimals, toBaseUnits, type Decimal } from '../../core/money.ts';
import { payoutRouteOf, type PayoutRoute } from '../../core/payout-route.ts';
import type { ConversionRequested, PayoutRequested, TransferAsset } from '../../schemas/generated/records.ts';

export type SwapKind = 'conversion' | 'payout';
export type SwapRoute = PayoutRoute;

export interface SwapIntent {
  readonly commandId: string;
  readonly kind: SwapKind;
  readonly route: SwapRoute;
  readonly fromCurrency: string;
  readonly fromNetwork: string;
  readonly toCurrency: string;
  readonly toNetwork: string;
  readonly fromAmount: Decimal;
  readonly payoutAddress: string;
  readonly refundAddress: string;
  readonly requestedAt: Date;
}

export interface IntentRejection {
  readonly field: string;
  readonly rule: string;
  readonly reason: string;
}

/** The assets the host wallet can pay in with, as ChangeNow names them (currency, network). */
const payInAssets: Readonly<Record<string, TransferAsset>> = { 'eth/eth': 'ETH', 'usdt/eth': 'USDT' };

export function payInAssetOf(currency: string, network: string): TransferAsset | undefined {
  return payInAssets[`${currency.toLowerCase()}/${network.toLowerCase()}`];
}

/** The pay-in amount in base units (wei, 10^-6 USDT). */
export function payInBaseUnits(currency: string, network: string, amount: Decimal): bigint {
  const asset = payInAssetOf(currency, network);
  if (asset === undefined) throw new RangeError(`no pay-in asset for ${currency}/${network}`);
  return toBaseUnits(amount, assetDecimals[asset]);
}

export function conversionIntent(command: ConversionRequested, hostWalletAddress: string): SwapIntent | IntentRejection {
  return checked({
    commandId: command.command_id,
    kind: 'conversion',
    route: 'exchange',
    fromCurrency: 'eth',
    fromNetwork: 'eth',
    toCurrency: 'usdt',
    toNetwork: 'eth',
    fromAmount: command.total_eth,
    payoutAddress: hostWalletAddress,
    refundAddress: hostWalletAddress,
    requestedAt: command.requested_at,
  });
}

export function payoutIntent(command: PayoutRequested, hostWalletAddress: string): SwapIntent | IntentRejection {
  const fromCurrency = command.from_currency.toLowerCase();
  const fromNetwork = command.from_network.toLowerCase();
  const toCurrency = command.to_currency.toLowerCase();
  const toNetwork = command.to_network.toLowerCase();
  return checked({
    commandId: command.command_id,
    kind: 'payout',
    route: payoutRouteOf({ fromCurrency, fromNetwork, toCurrency, toNetwork }),
    fromCurrency,
    fromNetwork,
    toCurrency,
    toNetwork,
    fromAmount: command.amount,
    payoutAddress: command.payout_address,
    refundAddress: hostWalletAddress,
    requestedAt: command.requested_at,
  });
}

export function isRejection(value: SwapIntent | IntentRejection): value is IntentRejection {
  return 'rule' in value;
}

function checked(intent: SwapIntent): SwapIntent | IntentRejection {
  const asset = payInAssetOf(intent.fromCurrency, intent.fromNetwork);
  if (asset === undefined) {
    return {
      field: 'from_currency',
      rule: 'pay-in asset',
      reason: `the host wallet pays in only ETH or USDT on eth, not ${intent.fromCurrency}/${intent.fromNetwork}`,
    };
  }
  if (!intent.fromAmount.isPositive() || intent.fromAmount.isZero()) {
    return { field: 'amount', rule: 'positive', reason: `amount must be positive, got ${intent.fromAmount.toFixed()}` };
  }
  if (intent.fromAmount.decimalPlaces() > assetDecimals[asset]) {
    return {
      field: 'amount',
      rule: 'base units',
      reason: `${intent.fromAmount.toFixed()} ${asset} has more than the asset's ${assetDecimals[asset]} decimal places`,
    };
  }
  if (intent.payoutAddress.trim() === '') {
    return { field: 'payout_address', rule: 'required', reason: 'payout address is empty' };
  }
  return intent;
}
