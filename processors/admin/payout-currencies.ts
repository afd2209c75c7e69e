// The (currency, network) pairs a client can be paid in: those the exchange (ChangeNow v2, whose
// tickers and network names these are) converts USDT or ETH into. A pair missing here is rejected
// at registration, never discovered at payout time when the money is already in flight.
import { addressFormats, isValidAddressOf } from './wallet-address.ts';
import type { AddressFormat } from './address-format.ts';

export interface PayoutPair {
  /** ChangeNow ticker, lower case. */
  readonly currency: string;
  /** ChangeNow network, lower case. */
  readonly network: string;
  readonly description: string;
  readonly addressFormat: AddressFormat;
}

export const payoutPairs: readonly PayoutPair[] = [
  { currency: 'xmr', network: 'xmr', description: 'Monero', addressFormat: 'monero' },
  { currency: 'btc', network: 'btc', description: 'Bitcoin', addressFormat: 'bitcoin' },
  { currency: 'ltc', network: 'ltc', description: 'Litecoin', addressFormat: 'litecoin' },
  { currency: 'doge', network: 'doge', description: 'Dogecoin', addressFormat: 'dogecoin' },
  { currency: 'bch', network: 'bch', description: 'Bitcoin Cash', addressFormat: 'bitcoin-cash' },
  { currency: 'eth', network: 'eth', description: 'Ether on Ethereum', addressFormat: 'evm' },
  { currency: 'usdt', network: 'eth', description: 'Tether USD, ERC-20 on Ethereum', addressFormat: 'evm' },
  { currency: 'usdc', network: 'eth', description: 'USD Coin, ERC-20 on Ethereum', addressFormat: 'evm' },
  { currency: 'usdt', network: 'trx', description: 'Tether USD, TRC-20 on Tron', addressFormat: 'tron' },
  { currency: 'trx', network: 'trx', description: 'Tron', addressFormat: 'tron' },
  { currency: 'sol', network: 'sol', description: 'Solana', addressFormat: 'solana' },
];

export function findPayoutPair(currency: string, network: string): PayoutPair | undefined {
  return payoutPairs.find((pair) => pair.currency === currency && pair.network === network);
}

export function isSupportedCurrency(currency: string): boolean {
  return payoutPairs.some((pair) => pair.currency === currency);
}

/** "xmr/xmr, btc/btc, …": the list a rejection names, so the caller can correct the request. */
export function describeSupportedPairs(): string {
  return payoutPairs.map((pair) => `${pair.currency}/${pair.network}`).join(', ');
}

export function networksOf(currency: string): string[] {
  return payoutPairs.filter((pair) => pair.currency === currency).map((pair) => pair.network);
}

export function isValidWalletFor(pair: PayoutPair, address: string): boolean {
  return isValidAddressOf(pair.addressFormat, address);
}

export function walletRuleOf(pair: PayoutPair): string {
  return addressFormats[pair.addressFormat].rule;
}
