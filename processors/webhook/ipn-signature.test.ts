// Proves the IPN signature check against vectors computed independently (Python's hmac over
// json.dumps(sort_keys=True, separators=(',', ':'))), that any change of body or secret fails, and
// that the iterative canonical form equals the recursive reference for any JSON and never
// overflows the stack.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { canonicalIpnJson, canonicalKeyOrder, isValidIpnSignature, signIpn } from './ipn-signature.ts';

/** The previous, recursive implementation (NOWPayments' reference algorithm), kept as the oracle. */
function referenceCanonicalJson(body: unknown): string | undefined {
  const sortKeysDeep = (value: unknown): unknown => {
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
  };
  return stringify(sortKeysDeep(body));
}

const secret = 'test-vector-secret-0123456789';
const unsortedBody =
  '{"payment_status":"finished","payment_id":5077125051,"price_amount":50,"fee":{"serviceFee":0.0001,"currency":"eth"},"order_id":"PP1|-1001234567890|6271402111|42","outcome_amount":0.021087}';
const pythonCanonical =
  '{"fee":{"currency":"eth","serviceFee":0.0001},"order_id":"PP1|-1001234567890|6271402111|42","outcome_amount":0.021087,"payment_id":5077125051,"payment_status":"finished","price_amount":50}';
const pythonSignature =
  '3f91a00406bfe4ad916bc786b051c769cd79db2981f6254465ee05e098af20583b34b2ce43f3c91761782b7c216d2dcdc1f062685dfa20159fb18a74d255c7a6';

describe('IPN signature', () => {
  it('sorts keys at every depth exactly as the reference implementation', () => {
    expect(canonicalIpnJson(parse(unsortedBody))).toBe(pythonCanonical);
  });

  it('matches the independently computed signature', () => {
    expect(signIpn(parse(unsortedBody), secret)).toBe(pythonSignature);
    expect(isValidIpnSignature(parse(unsortedBody), pythonSignature, secret)).toBe(true);
    expect(isValidIpnSignature(parse(unsortedBody), pythonSignature.toUpperCase(), secret)).toBe(true);
  });

  it('fails for a tampered body, a wrong secret, a truncated or non-hex signature', () => {
    const tampered = parse(unsortedBody.replace('"price_amount":50', '"price_amount":500'));
    expect(isValidIpnSignature(tampered, pythonSignature, secret)).toBe(false);
    expect(isValidIpnSignature(parse(unsortedBody), pythonSignature, 'another-secret-0123456789')).toBe(false);
    expect(isValidIpnSignature(parse(unsortedBody), pythonSignature.slice(0, 64), secret)).toBe(false);
    expect(isValidIpnSignature(parse(unsortedBody), 'z'.repeat(128), secret)).toBe(false);
    expect(isValidIpnSignature(parse(unsortedBody), '', secret)).toBe(false);
  });

  it('keeps the exact text of numbers, so trailing zeros and long amounts are signed as sent', () => {
    expect(canonicalIpnJson(parse('{"b":50.10,"a":0.000000000000000001}'))).toBe('{"a":0.000000000000000001,"b":50.10}');
    expect(canonicalIpnJson(parse('{"a":123456789012345678901234567890}'))).toBe('{"a":123456789012345678901234567890}');
  });

  it('does not depend on key order, for any object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string(), fc.integer(), fc.boolean())), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        return signIpn(object, secret) === signIpn(reversed, secret);
      }),
    );
  });

  it('orders integer-like keys as JS objects do ("9" before "10"), as the reference implementation', () => {
    expect(canonicalIpnJson(parse('{"10":1,"9":2,"a":3,"01":4}'))).toBe('{"9":2,"10":1,"01":4,"a":3}');
    expect(canonicalKeyOrder(['4294967295', '4294967294', 'b', '2', 'a'])).toEqual(['2', '4294967294', '4294967295', 'a', 'b']);
  });

  it('equals the recursive reference for any JSON text, including integer-like and unicode keys', () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.nat({ max: 5_000_000_000 }).map(String), fc.constantFrom('__proto__', '0', '00', '-1'));
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.string(), fc.integer().map(String).map((text) => ({ number: text })), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 5, selector: ([name]) => name }),
    }));
    const toText = (value: unknown): string => {
      if (Array.isArray(value)) {
        const entries = value as unknown[];
        const isObject = entries.length > 0 && entries.every((entry) => Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string');
        return isObject ? `{${(entries as [string, unknown][]).map(([name, item]) => `${JSON.stringify(name)}:${toText(item)}`).join(',')}}` : `[${entries.map(toText).join(',')}]`;
      }
      if (value !== null && typeof value === 'object') return (value as { number: string }).number;
      return JSON.stringify(value);
    };
    fc.assert(
      fc.property(json.value, (value) => {
        const body = parse(toText(value));
        expect(canonicalIpnJson(body)).toBe(referenceCanonicalJson(body));
      }),
      { numRuns: 500 },
    );
  });

  it('serialises a body nested 100,000 deep without recursion', () => {
    const depth = 100_000;
    let body: unknown = 1;
    for (let level = 0; level < depth; level += 1) body = level % 2 === 0 ? { a: body } : [body];
    expect(canonicalIpnJson(body)).toHaveLength(depth / 2 * ('{"a":'.length + '}'.length + 2) + 1);
  });
});
