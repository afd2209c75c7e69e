// NOWPayments signs an IPN with HMAC-SHA512 over the JSON body with its keys sorted (at every
// depth), keyed with the IPN secret, hex in `x-nowpayments-sig`. Numbers are kept as the exact
// text the sender wrote (lossless-json), so a re-serialisation can never change a digit of an
// amount and break — or forge — a signature.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isLosslessNumber, stringify } from 'lossless-json';

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object' && !isLosslessNumber(value)) {
    const source = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(source)
        .sort()
        .map((key) => [key, sortKeysDeep(source[key])]),
    );
  }
  return value;
}

/** The exact text NOWPayments signs: compact JSON, keys sorted at every depth. */
export function canonicalIpnJson(body: unknown): string {
  const text = stringify(sortKeysDeep(body));
  if (text === undefined) throw new TypeError('IPN body cannot be serialised');
  return text;
}

export function signIpn(body: unknown, secret: string): string {
  return createHmac('sha512', secret).update(canonicalIpnJson(body), 'utf8').digest('hex');
}

const sha512HexPattern = /^[0-9a-f]{128}$/i;

/** Constant-time comparison, so response timing reveals nothing about the expected signature. */
export function isValidIpnSignature(body: unknown, signature: string, secret: string): boolean {
  if (!sha512HexPattern.test(signature)) return false;
  const expected = Buffer.from(signIpn(body, secret), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
