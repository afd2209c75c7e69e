// The offset-reset plan: targets for earliest, latest and a timestamp, deltas counted from the log
// start where nothing is committed, and a confirm token that changes exactly when the plan does.
import { describe, expect, it } from 'vitest';
import { confirmTokenOf, planOffsetReset } from './offset-reset-plan.ts';

const ends = [
  { partition: 1, low: '5', high: '8' },
  { partition: 0, low: '0', high: '10' },
];
const committed = new Map([[0, '10']]);

describe('planOffsetReset', () => {
  it('moves to the log start, with the records re-read as a negative delta', () => {
    expect(planOffsetReset('earliest', ends, committed, new Map())).toEqual([
      { partition: 0, current: '10', target: '0', delta: '-10' },
      { partition: 1, current: '-1', target: '5', delta: '0' },
    ]);
  });

  it('moves to the end, skipping what is unread', () => {
    expect(planOffsetReset('latest', ends, committed, new Map())).toEqual([
      { partition: 0, current: '10', target: '10', delta: '0' },
      { partition: 1, current: '-1', target: '8', delta: '3' },
    ]);
  });

  it("moves to Kafka's offset for a timestamp, or the end when no record is that late", () => {
    expect(planOffsetReset({ timestamp: '2026-12-03T00:00:00Z' }, ends, committed, new Map([[0, '4'], [1, '-1']]))).toEqual([
      { partition: 0, current: '10', target: '4', delta: '-6' },
      { partition: 1, current: '-1', target: '8', delta: '3' },
    ]);
  });
});

describe('confirmTokenOf', () => {
  it('is stable for one plan and changes when any offset does', () => {
    const plan = planOffsetReset('earliest', ends, committed, new Map());
    expect(confirmTokenOf('g', 't', plan)).toMatch(/^[0-9a-f]{64}$/);
    expect(confirmTokenOf('g', 't', plan)).toBe(confirmTokenOf('g', 't', planOffsetReset('earliest', ends, committed, new Map())));
    expect(confirmTokenOf('g', 't', planOffsetReset('earliest', ends, new Map([[0, '9']]), new Map()))).not.toBe(confirmTokenOf('g', 't', plan));
    expect(confirmTokenOf('other', 't', plan)).not.toBe(confirmTokenOf('g', 't', plan));
  });
});
