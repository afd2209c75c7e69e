// NOWPayments signs an IPN with HMAC-SHA512 over the JSON body with its keys sorted (at every
// depth), keyed with the IPN secret, hex in `x-nowpayments-sig`. Numbers are kept as the exact
// text the sender wrote (lossless-json), so a re-serialisation can never change a digit of an
// amount and break — or forge — a signature.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isLosslessNumber } from 'lossless-json';

// Property order of a JS object, which NOWPayments' reference implementation (keys sorted, then
// copied into a new object and JSON.stringify'd) inherits: array-index keys ("0" … "4294967294")
// come first in numeric order, then every other key in sort() order (UTF-16 code units). So "9"
// precedes "10", unlike a plain code-point sort such as `jq -S`.
const arrayIndexMax = 4_294_967_294;

function isArrayIndex(key: string): boolean {
  return (key === '0' || /^[1-9][0-9]{0,9}$/.test(key)) && Number(key) <= arrayIndexMax;
}

/** The keys of an object in the order the signed text lists them. */
export function canonicalKeyOrder(keys: readonly string[]): string[] {
  // One pass over the keys (an IPN has no index keys, so `indexes` stays empty on the hot path).
  const indexes: string[] = [];
  const names: string[] = [];
  for (const key of keys) (isArrayIndex(key) ? indexes : names).push(key);
  if (indexes.length === 0) return names.sort();
  indexes.sort((left, right) => Number(left) - Number(right));
  return [...indexes, ...names.sort()];
}

function scalarText(value: unknown): string | undefined {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (isLosslessNumber(value)) return value.toString();
  return undefined;
}

type Frame =
  | { kind: 'array'; items: readonly unknown[]; next: number }
  | { kind: 'object'; source: Record<string, unknown>; keys: string[]; next: number };

/**
 * The exact text NOWPayments signs: compact JSON, keys sorted at every depth, numbers as sent.
 * Iterative, with an explicit stack: no body, however deep, can overflow the call stack here.
 */
export function canonicalIpnJson(body: unknown): string {
  const parts: string[] = [];
  const stack: Frame[] = [];
  const open = (value: unknown): void => {
    const scalar = scalarText(value);
    if (scalar !== undefined) {
      parts.push(scalar);
    } else if (Array.isArray(value)) {
      parts.push('[');
      stack.push({ kind: 'array', items: value, next: 0 });
    } else if (typeof value === 'object' && value !== null) {
      const source = value as Record<string, unknown>;
      // Like JSON.stringify, members without a JSON value (undefined) are left out.
      const keys = canonicalKeyOrder(Object.keys(source)).filter((key) => source[key] !== undefined);
      parts.push('{');
      stack.push({ kind: 'object', source, keys, next: 0 });
    } else {
      throw new TypeError('IPN body cannot be serialised');
    }
  };

  open(body);
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    if (frame.kind === 'array') {
      if (frame.next === frame.items.length) {
        parts.push(']');
        stack.pop();
        continue;
      }
      if (frame.next > 0) parts.push(',');
      const item = frame.items[frame.next];
      frame.next += 1;
      open(item === undefined ? null : item);
    } else {
      const key = frame.keys[frame.next];
      if (key === undefined) {
        parts.push('}');
        stack.pop();
        continue;
      }
      parts.push(`${frame.next > 0 ? ',' : ''}${JSON.stringify(key)}:`);
      frame.next += 1;
      open(frame.source[key]);
    }
  }
  return parts.join('');
}

function ipnHmac(body: unknown, secret: string): Buffer {
  return createHmac('sha512', secret).update(canonicalIpnJson(body), 'utf8').digest();
}

export function signIpn(body: unknown, secret: string): string {
  return ipnHmac(body, secret).toString('hex');
}

const sha512HexPattern = /^[0-9a-f]{128}$/i;

/** Constant-time comparison, so response timing reveals nothing about the expected signature. */
export function isValidIpnSignature(body: unknown, signature: string, secret: string): boolean {
  if (!sha512HexPattern.test(signature)) return false;
  // The digest's bytes, compared with the header's: no hex text built only to be decoded again.
  const expected = ipnHmac(body, secret);
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
