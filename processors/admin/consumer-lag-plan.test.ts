// Proves the consumer-lag arithmetic alone: high watermark − committed offset, a partition without
// a commit counted from the log's start, offsets below the start (deleted unread) not counted,
// partitions of vanished topics left out, and for any offsets a lag between 0 and the log's length.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lagOf } from './consumer-lag-plan.ts';

const ends = new Map([['alerts', [{ partition: 0, low: '10', high: '25' }, { partition: 1, low: '0', high: '7' }]]]);

describe('lagOf', () => {
  it('is the high watermark minus the committed offset', () => {
    expect(lagOf('notifier', [{ topic: 'alerts', partition: 0, offset: '20' }, { topic: 'alerts', partition: 1, offset: '7' }], ends)).toEqual([
      { group: 'notifier', topic: 'alerts', partition: 0, lag: 5 },
      { group: 'notifier', topic: 'alerts', partition: 1, lag: 0 },
    ]);
  });

  it('counts a partition without a commit, or committed below the log start, from the log start', () => {
    expect(lagOf('g', [{ topic: 'alerts', partition: 0, offset: '-1' }, { topic: 'alerts', partition: 1, offset: '-1' }], ends).map((lag) => lag.lag)).toEqual([15, 7]);
    expect(lagOf('g', [{ topic: 'alerts', partition: 0, offset: '3' }], ends).map((lag) => lag.lag)).toEqual([15]);
  });

  it('leaves out partitions whose topic is gone', () => {
    expect(lagOf('g', [{ topic: 'deleted', partition: 0, offset: '4' }, { topic: 'alerts', partition: 9, offset: '4' }], ends)).toEqual([]);
  });

  it('for any offsets: 0 ≤ lag ≤ high − low', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.bigInt({ min: 0n, max: 2n ** 40n }), fc.bigInt({ min: -1n, max: 2n ** 62n }), (low, length, committed) => {
        const high = low + length;
        const [lag] = lagOf('g', [{ topic: 't', partition: 0, offset: String(committed) }], new Map([['t', [{ partition: 0, low: String(low), high: String(high) }]]]));
        expect(lag!.lag).toBeGreaterThanOrEqual(0);
        expect(BigInt(lag!.lag)).toBeLessThanOrEqual(length);
      }),
    );
  });
});
