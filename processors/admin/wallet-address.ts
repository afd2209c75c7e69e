// Wallet address checks per address format. A payout sent to a mistyped address is lost for good,
// so each format is checked down to its checksum wherever it has one: EVM by EIP-55 (ethers),
// Bitcoin-family and Tron by base58check/bech32 and Monero by its Keccak checksum
// (multicoin-address-validator), Bitcoin Cash CashAddr by its BCH code (cashaddr.ts). Solana has
// no checksum; the best available is "exactly 32 bytes of base58". A well-formed address nobody can
// spend from (the zero address, a burn address, a system program) is refused by name
// (unspendable-addresses.ts).
import { decodeBase58, getAddress } from 'ethers';
import addressValidator from 'multicoin-address-validator';
import { isValidCashAddr } from './cashaddr.ts';
import { findUnspendableAddress } from './unspendable-addresses.ts';
import type { AddressFormat } from './address-format.ts';

/** Longer than any supported address (Monero integrated: 106): a cheap bound before decoding. */
export const walletAddressLengthMax = 128;

export interface AddressFormatRule {
  /** What a valid address looks like, for the `rule` of a rejection. */
  readonly rule: string;
  readonly isValid: (address: string) => boolean;
}

const base58Characters = /^[1-9A-HJ-NP-Za-km-z]+$/;

function isChecksummedEvmAddress(address: string): boolean {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) return false;
  // An all-lower or all-upper address carries no checksum, so a typo in it cannot be detected:
  // only the mixed-case form that getAddress would print is accepted.
  let checksummed: string;
  try {
    checksummed = getAddress(address);
  } catch {
    return false;
  }
  return checksummed === address;
}

/** Bytes a base58 text decodes to: each leading '1' is a zero byte, the rest a big-endian number. */
function base58ByteLength(text: string): number | undefined {
  if (!base58Characters.test(text)) return undefined;
  const leadingZeros = /^1*/.exec(text)?.[0].length ?? 0;
  if (leadingZeros === text.length) return leadingZeros;
  const value = decodeBase58(text.slice(leadingZeros));
  return leadingZeros + Math.ceil(value.toString(16).length / 2);
}

function multicoin(symbol: string): (address: string) => boolean {
  return (address) => {
    try {
      return addressValidator.validate(address, symbol, { networkType: 'prod' });
    } catch {
      return false;
    }
  };
}

const isBitcoinAddress = multicoin('btc');

export const addressFormats: Readonly<Record<AddressFormat, AddressFormatRule>> = {
  evm: {
    rule: 'an EIP-55 checksummed EVM address (0x and 40 hex digits in mixed case)',
    isValid: isChecksummedEvmAddress,
  },
  bitcoin: {
    rule: 'a Bitcoin mainnet address (1… or 3… base58check, bc1… bech32/bech32m) with a valid checksum',
    isValid: isBitcoinAddress,
  },
  litecoin: {
    rule: 'a Litecoin mainnet address (L… or M… base58check, ltc1… bech32) with a valid checksum',
    isValid: multicoin('ltc'),
  },
  dogecoin: {
    rule: 'a Dogecoin mainnet address (D… or 9…/A… base58check) with a valid checksum',
    isValid: multicoin('doge'),
  },
  'bitcoin-cash': {
    rule: 'a Bitcoin Cash mainnet address (CashAddr q…/p…, optionally prefixed bitcoincash:, or legacy 1…/3…) with a valid checksum',
    // Legacy addresses are Bitcoin's base58check; Bitcoin's bech32 (bc1…) does not exist on BCH.
    isValid: (address) => isValidCashAddr(address) || (/^[13]/.test(address) && isBitcoinAddress(address)),
  },
  monero: {
    rule: 'a Monero mainnet address (95 characters starting with 4 or 8, or 106 integrated) with a valid checksum',
    isValid: multicoin('xmr'),
  },
  tron: {
    rule: 'a Tron address (34 characters base58check starting with T) with a valid checksum',
    isValid: multicoin('trx'),
  },
  solana: {
    rule: 'a Solana address (base58 of exactly 32 bytes)',
    isValid: (address) => address.length >= 32 && address.length <= 44 && base58ByteLength(address) === 32,
  },
};

/** Well formed for `format` and not a known unspendable address. */
export function isValidAddressOf(format: AddressFormat, address: string): boolean {
  return address.length <= walletAddressLengthMax && addressFormats[format].isValid(address) && findUnspendableAddress(format, address) === undefined;
}
