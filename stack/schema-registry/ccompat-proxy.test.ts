import { describe, expect, it } from 'vitest';
import { adaptResponseBody } from './ccompat-proxy.ts';

const compatibilityCheck = { method: 'POST', path: '/compatibility/subjects/s-value/versions/latest?verbose=true' };

describe('adaptResponseBody', () => {
  it("turns Apicurio's compatibility reason into Confluent's messages", () => {
    const adapted = adaptResponseBody(compatibilityCheck, 200, JSON.stringify({ is_compatible: false, reason: 'c at /fields/3' }));
    expect(JSON.parse(adapted ?? 'null')).toEqual({ is_compatible: false, reason: 'c at /fields/3', messages: ['c at /fields/3'] });
  });

  it('leaves a verdict without reason, or one that already has messages, as it is', () => {
    expect(adaptResponseBody(compatibilityCheck, 200, JSON.stringify({ is_compatible: true, reason: null }))).toBeUndefined();
    expect(adaptResponseBody(compatibilityCheck, 200, JSON.stringify({ is_compatible: false, messages: ['x'] }))).toBeUndefined();
  });

  it("gives a 409 Confluent's error code 409 where Apicurio says 0", () => {
    const register = { method: 'POST', path: '/subjects/s-value/versions' };
    const adapted = adaptResponseBody(register, 409, JSON.stringify({ message: 'Incompatible artifact', error_code: 0 }));
    expect(JSON.parse(adapted ?? 'null')).toEqual({ message: 'Incompatible artifact', error_code: 409 });
  });

  it('leaves other answers alone', () => {
    const register = { method: 'POST', path: '/subjects/s-value/versions' };
    expect(adaptResponseBody(register, 200, '{"id":1}')).toBeUndefined();
    expect(adaptResponseBody(register, 404, '{"error_code":40401,"message":"no subject"}')).toBeUndefined();
    expect(adaptResponseBody(register, 409, 'not json')).toBeUndefined();
  });
});
