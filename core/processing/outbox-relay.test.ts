// Proves with fast-check that the outbox relay's pause after failed passes grows with each failure
// in a row, never passes its cap, and falls back to the idle delay once a pass succeeds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { relayPauseMs } from './outbox-relay.ts';

describe('relayPauseMs', () => {
  it('is the idle delay without failures, then doubles up to the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 60_000 }), (failures, idleDelayMs, capMs) => {
        const pause = relayPauseMs(failures, idleDelayMs, capMs);
        if (failures === 0) expect(pause).toBe(idleDelayMs);
        else {
          expect(pause).toBeLessThanOrEqual(Math.max(idleDelayMs, capMs));
          expect(pause).toBeGreaterThanOrEqual(idleDelayMs);
          expect(relayPauseMs(failures + 1, idleDelayMs, capMs)).toBeGreaterThanOrEqual(pause);
        }
      }),
    );
    expect([1, 2, 3, 7, 50].map((failures) => relayPauseMs(failures, 100, 10_000))).toEqual([200, 400, 800, 10_000, 10_000]);
  });
});
