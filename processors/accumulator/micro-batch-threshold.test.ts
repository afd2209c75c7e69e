// Proves which micro-batch thresholds the accumulator puts in force (positive, within the ceiling,
// at most 8 decimals) and that the newer of two changes wins whatever order they arrive in.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { isNewerChange, thresholdProblemOf } from './micro-batch-threshold.ts';

const ceiling = new Decimal('100000');

describe('a threshold value', () => {
  it.each(['0.00000001', '20', '99999.99999999', '100000'])('accepts %s', (value) => {
    expect(thresholdProblemOf(new Decimal(value), ceiling)).toBeUndefined();
  });

  it.each([
    ['0', 'threshold-positive'],
    ['-5', 'threshold-positive'],
    ['NaN', 'threshold-positive'],
    ['100000.00000001', 'threshold-ceiling'],
    ['20.000000001', 'threshold-scale'],
  ])('refuses %s (%s)', (value, rule) => {
    expect(thresholdProblemOf(new Decimal(value), ceiling)?.rule).toBe(rule);
  });
});

describe('two threshold changes', () => {
  const at = (iso: string, changeId: string) => ({ changeId, changedAt: new Date(iso) });

  it('orders by changed_at first, whatever the ids', () => {
    expect(isNewerChange(at('2026-11-21T10:00:00.001Z', 'a'), at('2026-11-21T10:00:00.000Z', 'z'))).toBe(true);
    expect(isNewerChange(at('2026-11-21T10:00:00.000Z', 'z'), at('2026-11-21T10:00:00.001Z', 'a'))).toBe(false);
  });

  it('breaks a tie on changed_at by change id, so both orders of arrival agree', () => {
    const first = at('2026-11-21T10:00:00.000Z', 'b');
    const second = at('2026-11-21T10:00:00.000Z', 'a');
    expect(isNewerChange(first, second)).toBe(true);
    expect(isNewerChange(second, first)).toBe(false);
    expect(isNewerChange(first, first)).toBe(false);
  });
});
