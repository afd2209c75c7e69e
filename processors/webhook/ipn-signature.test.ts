// Proves the IPN signature check against vectors computed independently (Python's hmac over
// json.dumps(sort_keys=True, separators=(',', ':'))), and that any change of body or secret fails.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'lossless-json';
import { canonicalIpnJson, isValidIpnSignature, signIpn } from './ipn-signature.ts';

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
});
