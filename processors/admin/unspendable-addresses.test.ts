// Proves that every known burn, zero and system address is refused as a payout wallet on every
// supported network of its format, with its own error, while the table holds only well-formed
// addresses (so a typo in it cannot leave an address unguarded) and ordinary addresses still pass.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { computeAddress, encodeBase58, getAddress, hexlify } from 'ethers';
import { findPayoutPair, isValidWalletFor, payoutPairs } from './payout-currencies.ts';
import { parseClientConfigRequest, unspendableWalletRule } from './client-config.ts';
import { Decimal } from '../../core/money.ts';
import { addressFormats } from './wallet-address.ts';
import type { AddressFormat } from './address-format.ts';
import { findUnspendableAddress, unspendableAddresses } from './unspendable-addresses.ts';

const bounds = { min: new Decimal(50), max: new Decimal(100_000) };
const formats = Object.keys(unspendableAddresses) as AddressFormat[];

function rejectionOf(body: unknown): Record<string, unknown> | undefined {
  try {
    parseClientConfigRequest(body, bounds);
    return undefined;
  } catch (error) {
    return { ...(error as object), code: (error as { code: string }).code };
  }
}

const cases = payoutPairs.flatMap((pair) => unspendableAddresses[pair.addressFormat].map((entry) => ({ pair, ...entry })));

describe('the table of unspendable addresses', () => {
  it.each(formats.flatMap((format) => unspendableAddresses[format].map((entry) => ({ format, ...entry }))))(
    '$address ($reason) is a well-formed $format address',
    ({ format, address }) => {
      expect(addressFormats[format].isValid(address)).toBe(true);
    },
  );

  it('covers every format a payout network uses, Monero excepted', () => {
    const used = new Set(payoutPairs.map((pair) => pair.addressFormat));
    for (const format of used) if (format !== 'monero') expect(unspendableAddresses[format].length).toBeGreaterThan(0);
  });
});

describe('a payout wallet', () => {
  it.each(cases)('refuses $address on $pair.currency/$pair.network: $reason', ({ pair, address }) => {
    expect(isValidWalletFor(pair, address)).toBe(false);
    const body = { strategy: 'instant', wallet_address: address, payout_currency: pair.currency, payout_network: pair.network };
    expect(rejectionOf(body)).toMatchObject({ field: 'wallet_address', rule: unspendableWalletRule, code: 'unspendable_wallet_address' });
  });

  it('refuses the Solana system program (F5)', () => {
    expect(isValidWalletFor(findPayoutPair('sol', 'sol')!, '11111111111111111111111111111111')).toBe(false);
  });

  it.each([
    ['bitcoin', 'BC1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ9E75RS'],
    ['bitcoin-cash', 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqfnhks603'],
    ['bitcoin-cash', 'BITCOINCASH:QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQFNHKS603'],
    ['evm', '0x000000000000000000000000000000000000DEAD'],
  ] as const)('knows the %s address %s in its other spelling', (format, address) => {
    expect(findUnspendableAddress(format, address)).toBeDefined();
  });

  it('accepts addresses of random keys on every EVM network', () => {
    const evmPairs = payoutPairs.filter((pair) => pair.addressFormat === 'evm');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((bytes) => bytes.some((byte) => byte !== 0)), (key) => {
        const address = getAddress(computeAddress(hexlify(key)));
        for (const pair of evmPairs) expect(isValidWalletFor(pair, address)).toBe(true);
      }),
      { seed: 20261202, numRuns: 100 },
    );
  });

  it('accepts random 32-byte Solana keys that are not in the table', () => {
    const sol = findPayoutPair('sol', 'sol')!;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((bytes) => bytes[0] !== 0), (key) => {
        const address = encodeBase58(key);
        expect(isValidWalletFor(sol, address)).toBe(findUnspendableAddress('solana', address) === undefined);
        expect(findUnspendableAddress('solana', address)).toBeUndefined();
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });
});
