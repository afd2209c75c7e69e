// What the simulator trades: ChangeNow's (ticker, network) pairs the pipeline uses, each with its
// decimals, a USD price and the fixed network fee the exchange deducts when it sends. Only the
// local chain's ETH and USDT can be paid in (the simulator watches that chain for deposits) or
// paid out for real; every other currency is paid out with a synthetic hash (see payoutKind).
import { Decimal, ethScale, usdtScale } from '../../core/money.ts';

/**
 * How a payout in the currency reaches the client: `eth` and `usdt` are real transfers on the local
 * chain; `synthetic` finishes with the hash `simulated:<currency>:<64 hex>`, since no local chain
 * runs for it.
 */
export type PayoutKind = 'eth' | 'usdt' | 'synthetic';

export interface SimulatedCurrency {
  readonly currency: string;
  readonly network: string;
  readonly decimals: number;
  /** USD per unit; `eth` follows SIMULATOR_ETH_USD. */
  readonly usdPrice: Decimal | 'eth';
  /** The exchange's network fee when it sends this currency, in this currency. */
  readonly withdrawalFee: Decimal;
  readonly payoutKind: PayoutKind;
  /** Whether the simulator can see a deposit of it on the local chain. */
  readonly payableIn: boolean;
  /** Whether its addresses are EVM addresses (checked with their EIP-55 checksum). */
  readonly evmAddresses: boolean;
}

/** `usdPrice` "eth" follows SIMULATOR_ETH_USD. */
function currency(
  ticker: string,
  network: string,
  decimals: number,
  usdPrice: string,
  withdrawalFee: string,
  options: { payoutKind?: PayoutKind; payableIn?: boolean; evmAddresses?: boolean } = {},
): SimulatedCurrency {
  return {
    currency: ticker,
    network,
    decimals,
    usdPrice: usdPrice === 'eth' ? 'eth' : new Decimal(usdPrice),
    withdrawalFee: new Decimal(withdrawalFee),
    payoutKind: options.payoutKind ?? 'synthetic',
    payableIn: options.payableIn ?? false,
    evmAddresses: options.evmAddresses ?? false,
  };
}

// Prices are round figures of the right order of magnitude; tests compute expectations from them.
export const simulatedCurrencies: readonly SimulatedCurrency[] = [
  currency('eth', 'eth', ethScale, 'eth', '0.0002', { payoutKind: 'eth', payableIn: true, evmAddresses: true }),
  currency('usdt', 'eth', usdtScale, '1', '0.5', { payoutKind: 'usdt', payableIn: true, evmAddresses: true }),
  currency('usdc', 'eth', 6, '1', '0.5', { evmAddresses: true }),
  currency('usdt', 'trx', 6, '1', '1'),
  currency('btc', 'btc', 8, '60000', '0.00002'),
  currency('xmr', 'xmr', 12, '150', '0.0001'),
  currency('ltc', 'ltc', 8, '80', '0.0001'),
  currency('doge', 'doge', 8, '0.1', '1'),
  currency('bch', 'bch', 8, '400', '0.0001'),
  currency('trx', 'trx', 6, '0.12', '1'),
  currency('sol', 'sol', 9, '150', '0.001'),
];

export function findSimulatedCurrency(ticker: string, network: string): SimulatedCurrency | undefined {
  return simulatedCurrencies.find((entry) => entry.currency === ticker && entry.network === network);
}

export function usdPriceOf(entry: SimulatedCurrency, ethUsd: Decimal): Decimal {
  return entry.usdPrice === 'eth' ? ethUsd : entry.usdPrice;
}
