// The address formats a payout wallet can have. Its own module because both the validity rules
// (wallet-address.ts) and the unspendable-address table (unspendable-addresses.ts), which the
// rules consult, are keyed by it: neither has to import the other for the name.
export type AddressFormat = 'evm' | 'bitcoin' | 'litecoin' | 'dogecoin' | 'bitcoin-cash' | 'monero' | 'tron' | 'solana';
