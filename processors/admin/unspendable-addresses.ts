// Addresses that are well formed, checksum and all, yet nobody can spend from: burn addresses,
// all-zero hashes and keys, and the system programs and precompiles of a chain. A payout sent to
// one is gone for good, and the format check alone cannot tell (the Solana system program is a
// valid 32-byte key; Bitcoin's eater address has a valid checksum), so they are refused by name.
//
// One table, per address format, so every network that uses a format is covered at once (EVM:
// eth, usdt and usdc on eth; Tron: trx and usdt on trx). The all-zero entries were computed by
// encoding a zero hash with each format's own version bytes and checksum; the test checks that
// every entry is a valid address of its format, so a typo here cannot silently protect nothing.
// Monero has no entry: no widely known Monero burn address exists to list with confidence.
import { getAddress } from 'ethers';
import type { AddressFormat } from './address-format.ts';

export interface UnspendableAddress {
  readonly address: string;
  readonly reason: string;
}

function evmLowAddress(value: number): string {
  return getAddress(`0x${value.toString(16).padStart(40, '0')}`);
}

// 0x01–0x11 run native code (ecrecover, sha256, …, the BLS12-381 operations added by Prague):
// tokens or ether sent there can never be moved again.
const evmPrecompiles: readonly UnspendableAddress[] = Array.from({ length: 0x11 }, (_, index) => ({
  address: evmLowAddress(index + 1),
  reason: `the precompiled contract 0x${(index + 1).toString(16).padStart(2, '0')}`,
}));

export const unspendableAddresses: Readonly<Record<AddressFormat, readonly UnspendableAddress[]>> = {
  evm: [
    { address: '0x0000000000000000000000000000000000000000', reason: 'the zero address' },
    { address: '0x000000000000000000000000000000000000dEaD', reason: 'the 0x…dEaD burn address' },
    { address: '0xdEAD000000000000000042069420694206942069', reason: 'the 0xdEAD…2069 burn address' },
    ...evmPrecompiles,
  ],
  bitcoin: [
    { address: '1111111111111111111114oLvT2', reason: 'the P2PKH address of the all-zero hash' },
    { address: '31h1vYVSYuKP6AhS86fbRdMw9XHieotbST', reason: 'the P2SH address of the all-zero hash' },
    { address: 'bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq9e75rs', reason: 'the P2WPKH address of the all-zero hash' },
    { address: 'bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqthqst8', reason: 'the P2WSH address of the all-zero hash' },
    { address: 'bc1pqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqpqqenm', reason: 'the P2TR address of the all-zero key' },
    { address: '1BitcoinEaterAddressDontSendf59kuE', reason: 'the Bitcoin eater burn address' },
    { address: '1CounterpartyXXXXXXXXXXXXXXXUWLpVr', reason: 'the Counterparty proof-of-burn address' },
  ],
  litecoin: [
    { address: 'LKDxGDJq5fF4FohAB8zJH24mDDNHDNtqsE', reason: 'the P2PKH address of the all-zero hash' },
    { address: 'M7uAERuQW2AotfyLDyewFGcLUDtAYu9v5V', reason: 'the P2SH address of the all-zero hash' },
    { address: 'ltc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqp9ysmq', reason: 'the P2WPKH address of the all-zero hash' },
    { address: 'ltc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqgnwq3z', reason: 'the P2WSH address of the all-zero hash' },
  ],
  dogecoin: [
    { address: 'D596YFweJQuHY1BbjazZYmAbt8jJPbKehC', reason: 'the P2PKH address of the all-zero hash' },
    { address: '9rSGfPZLcyCGzY4uYEL1fkzJr6fkicS2rs', reason: 'the P2SH address of the all-zero hash' },
    { address: 'DDogepartyxxxxxxxxxxxxxxxxxxw1dfzr', reason: 'the Dogeparty proof-of-burn address' },
  ],
  'bitcoin-cash': [
    { address: 'bitcoincash:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqfnhks603', reason: 'the CashAddr P2PKH address of the all-zero hash' },
    { address: 'bitcoincash:pqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq7k2ehe5v', reason: 'the CashAddr P2SH address of the all-zero hash' },
    // Legacy addresses are Bitcoin's encoding, and the same hashes are unspendable on BCH.
    { address: '1111111111111111111114oLvT2', reason: 'the legacy P2PKH address of the all-zero hash' },
    { address: '31h1vYVSYuKP6AhS86fbRdMw9XHieotbST', reason: 'the legacy P2SH address of the all-zero hash' },
    { address: '1BitcoinEaterAddressDontSendf59kuE', reason: 'the Bitcoin eater burn address' },
  ],
  monero: [],
  tron: [{ address: 'T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb', reason: 'the Tron black hole address (all-zero)' }],
  solana: [
    { address: '11111111111111111111111111111111', reason: 'the System Program' },
    { address: '1nc1nerator11111111111111111111111111111111', reason: 'the incinerator' },
    { address: 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', reason: 'the SPL Token program' },
    { address: 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PQnBqCXEpPxuEb', reason: 'the Token-2022 program' },
    { address: 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL', reason: 'the Associated Token Account program' },
    { address: 'Vote111111111111111111111111111111111111111', reason: 'the Vote program' },
    { address: 'Stake11111111111111111111111111111111111111', reason: 'the Stake program' },
    { address: 'Config1111111111111111111111111111111111111', reason: 'the Config program' },
    { address: 'ComputeBudget111111111111111111111111111111', reason: 'the Compute Budget program' },
    { address: 'AddressLookupTab1e1111111111111111111111111', reason: 'the Address Lookup Table program' },
    { address: 'BPFLoaderUpgradeab1e11111111111111111111111', reason: 'the upgradeable BPF loader' },
    { address: 'BPFLoader2111111111111111111111111111111111', reason: 'the BPF loader' },
    { address: 'SysvarRent111111111111111111111111111111111', reason: 'the Rent sysvar' },
    { address: 'SysvarC1ock11111111111111111111111111111111', reason: 'the Clock sysvar' },
    { address: 'Sysvar1nstructions1111111111111111111111111', reason: 'the Instructions sysvar' },
  ],
};

/**
 * One spelling per address: EVM hex and bech32 are case-insensitive, CashAddr also drops its
 * optional prefix; base58 is case-sensitive and stays as it is.
 */
export function canonicalAddressOf(format: AddressFormat, address: string): string {
  switch (format) {
    case 'evm':
      return address.toLowerCase();
    case 'bitcoin':
    case 'litecoin':
      return /^(bc|ltc)1/i.test(address) ? address.toLowerCase() : address;
    case 'bitcoin-cash': {
      const lower = address.toLowerCase();
      return /^[qp]/.test(lower) || lower.startsWith('bitcoincash:') ? lower.replace(/^bitcoincash:/, '') : address;
    }
    case 'dogecoin':
    case 'monero':
    case 'tron':
    case 'solana':
      return address;
  }
}

const canonicalTable: ReadonlyMap<AddressFormat, ReadonlyMap<string, UnspendableAddress>> = new Map(
  (Object.keys(unspendableAddresses) as AddressFormat[]).map((format) => [
    format,
    new Map(unspendableAddresses[format].map((entry) => [canonicalAddressOf(format, entry.address), entry])),
  ]),
);

/** The entry when `address` is a known unspendable address of `format`. */
export function findUnspendableAddress(format: AddressFormat, address: string): UnspendableAddress | undefined {
  return canonicalTable.get(format)?.get(canonicalAddressOf(format, address));
}
