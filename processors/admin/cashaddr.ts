// Bitcoin Cash CashAddr (spec: bitcoincashorg "cashaddr.md"), checked by hand because the address
// library this project uses (multicoin-address-validator 0.5.x) runs Bech32's polymod over CashAddr
// and treats a failed check as success, so it accepts any 42 base32 characters after q or p. The
// checksum is a 40-bit BCH code over the prefix's low 5 bits, a zero, and the 5-bit payload.
const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const generators = [0x98f2bc8e61n, 0x79b76d99e2n, 0xf33e5fb3c4n, 0xae2eabe2a8n, 0x1e4f43e470n] as const;
const mainnetPrefix = 'bitcoincash';

function polymod(values: readonly number[]): bigint {
  let checksum = 1n;
  for (const value of values) {
    const top = checksum >> 35n;
    checksum = ((checksum & 0x07ffffffffn) << 5n) ^ BigInt(value);
    generators.forEach((generator, bit) => {
      if (((top >> BigInt(bit)) & 1n) === 1n) checksum ^= generator;
    });
  }
  return checksum ^ 1n;
}

/**
 * True for a mainnet CashAddr of a 160-bit P2PKH (q…) or P2SH (p…) hash, with or without the
 * `bitcoincash:` prefix, all lower or all upper case, whose checksum holds.
 */
export function isValidCashAddr(address: string): boolean {
  if (address !== address.toLowerCase() && address !== address.toUpperCase()) return false;
  const lower = address.toLowerCase();
  const separator = lower.indexOf(':');
  const prefix = separator === -1 ? mainnetPrefix : lower.slice(0, separator);
  const payload = separator === -1 ? lower : lower.slice(separator + 1);
  if (prefix !== mainnetPrefix || !/^[qp][02-9ac-hj-np-z]{41}$/.test(payload)) return false;
  const values = [...payload].map((character) => charset.indexOf(character));
  const prefixValues = [...prefix].map((character) => character.charCodeAt(0) & 0x1f);
  if (polymod([...prefixValues, 0, ...values]) !== 0n) return false;
  // 34 data groups carry 170 bits: the version byte (type in bits 6–3: 0 P2PKH, 1 P2SH, which the
  // q/p already fixed; size 0 = 160 bits in bits 2–0), the 160-bit hash, and two zero padding bits.
  const sizeBits = (values[1] ?? -1) >> 2;
  const paddingBits = (values[33] ?? -1) & 0b11;
  return sizeBits === 0 && paddingBits === 0;
}
