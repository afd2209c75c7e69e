// The ledger_pending payload: what a writer encodes is what the accumulator decodes, exactly, and
// anything else — an old writer's bare count, a hand-sent NOTIFY, garbage — decodes as "unknown"
// (the accumulator then rebuilds its summary from the ledger).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../core/money.ts';
import { arrivalOf, decodeLedgerPending, encodeLedgerPending } from './ledger-notifications.ts';

describe('the ledger_pending payload', () => {
  it('round-trips count, exact USD sum and oldest received_at, and stays far below the 8000-byte limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.bigInt({ min: 1n, max: 10n ** 28n - 1n }),
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        (count, usdUnits, oldestReceivedAt) => {
          const usdNet = new Decimal(usdUnits.toString()).div(new Decimal(10).pow(8));
          const payload = encodeLedgerPending({ count, usdNet, oldestReceivedAt });
          expect(Buffer.byteLength(payload)).toBeLessThan(200);
          const notice = decodeLedgerPending(payload);
          expect(notice.kind).toBe('arrival');
          if (notice.kind !== 'arrival') return;
          expect(notice.arrival.count).toBe(count);
          expect(notice.arrival.usdNet.equals(usdNet)).toBe(true);
          expect(notice.arrival.oldestReceivedAt.getTime()).toBe(oldestReceivedAt.getTime());
        },
      ),
    );
  });

  it('folds the rows of one transaction into one arrival', () => {
    const arrival = arrivalOf([
      { usdNet: new Decimal('1.5'), receivedAt: new Date('2026-01-02T00:00:00Z') },
      { usdNet: new Decimal('0.00000001'), receivedAt: new Date('2026-01-01T00:00:00Z') },
    ]);
    expect(arrival?.count).toBe(2);
    expect(arrival?.usdNet.toFixed()).toBe('1.50000001');
    expect(arrival?.oldestReceivedAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(arrivalOf([])).toBeUndefined();
  });

  it.each([undefined, '', '3', 'null', '{}', '{"v":2,"count":1,"usdNet":"1","oldestReceivedAt":"2026-01-01T00:00:00.000Z"}',
    '{"v":1,"count":0,"usdNet":"1","oldestReceivedAt":"2026-01-01T00:00:00.000Z"}',
    '{"v":1,"count":1,"usdNet":1,"oldestReceivedAt":"2026-01-01T00:00:00.000Z"}',
    '{"v":1,"count":1,"usdNet":"-1","oldestReceivedAt":"2026-01-01T00:00:00.000Z"}',
    '{"v":1,"count":1,"usdNet":"1e3","oldestReceivedAt":"2026-01-01T00:00:00.000Z"}',
    '{"v":1,"count":1,"usdNet":"1","oldestReceivedAt":"yesterday"}',
    '{"v":1,"count":1,"usdNet":"1","oldestReceivedAt":"2026-01-01T00:00:00.000Z","extra":true}',
  ])('decodes %j as unknown', (payload) => {
    expect(decodeLedgerPending(payload)).toEqual({ kind: 'unknown' });
  });
});
