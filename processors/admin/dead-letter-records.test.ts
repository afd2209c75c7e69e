// The dead-letter browser's cursor (each partition's next offset) and header text.
import { describe, expect, it } from 'vitest';
import { decodePositions, encodePositions, headersAsText } from './dead-letter-records.ts';

describe('dead-letter cursor', () => {
  it('round-trips every partition position, int64 included', () => {
    const positions = new Map([[1, 5n], [0, 9_223_372_036_854_775_807n]]);
    expect(decodePositions(encodePositions(positions))).toEqual(new Map([[0, 9_223_372_036_854_775_807n], [1, 5n]]));
    expect(decodePositions(undefined)).toBeNull();
  });

  it('refuses a cursor this list did not give', () => {
    expect(() => decodePositions('bm90LWEtY3Vyc29y')).toThrow(/cursor/);
    expect(() => decodePositions(Buffer.from(JSON.stringify(['0:x'])).toString('base64url'))).toThrow(/cursor/);
  });
});

describe('headersAsText', () => {
  it('reads every header as UTF-8 text', () => {
    expect(headersAsText({ 'dlq-reason': Buffer.from('client ünknown'), 'correlation-id': 'c-1', many: [Buffer.from('a'), 'b'], absent: undefined })).toEqual({
      'dlq-reason': 'client ünknown',
      'correlation-id': 'c-1',
      many: 'a, b',
    });
  });
});
