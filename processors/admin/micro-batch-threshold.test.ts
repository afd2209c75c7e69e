// Proves which runtime micro-batch thresholds are accepted: decimal strings above zero, within the
// configured ceiling, with at most 8 decimals; everything else is refused naming `value` and the rule.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { parseMicroBatchThreshold, parseMicroBatchThresholdRequest } from './micro-batch-threshold.ts';

const limits = { max: new Decimal('100000'), default: new Decimal('20') };

describe('parseMicroBatchThreshold', () => {
  it.each(['25.5', '0.00000001', '100000', '1000.12345678'])('accepts %s exactly', (text) => {
    expect(parseMicroBatchThreshold(text, limits).equals(new Decimal(text))).toBe(true);
  });

  it.each([
    ['0', 'greater than 0'],
    ['0.00', 'greater than 0'],
    ['-5', 'positive'],
    ['abc', 'decimal string'],
    ['NaN', 'decimal string'],
    ['Infinity', 'decimal string'],
    ['1e3', 'decimal string'],
    ['100000.00000001', 'maximum 100000'],
    ['1.123456789', 'at most 8 decimal places'],
  ])('refuses %s (%s)', (text, rule) => {
    expect(() => parseMicroBatchThreshold(text, limits)).toThrow(expect.objectContaining({ field: 'value', rule }) as Error);
  });

  it('refuses a JSON number', () => {
    expect(() => parseMicroBatchThreshold(25, limits)).toThrow(expect.objectContaining({ field: 'value', rule: 'money as a decimal string' }) as Error);
  });
});

describe('parseMicroBatchThresholdRequest', () => {
  it('reads {"value": "25.5"}', () => {
    expect(parseMicroBatchThresholdRequest({ value: '25.5' }, limits).toFixed()).toBe('25.5');
  });

  it('requires value and refuses other fields', () => {
    expect(() => parseMicroBatchThresholdRequest({}, limits)).toThrow(expect.objectContaining({ field: 'value', rule: 'required' }) as Error);
    expect(() => parseMicroBatchThresholdRequest({ value: '5', threshold: '5' }, limits)).toThrow(expect.objectContaining({ field: 'threshold', rule: 'unknown field' }) as Error);
    expect(() => parseMicroBatchThresholdRequest('25', limits)).toThrow(expect.objectContaining({ field: 'body' }) as Error);
  });
});
