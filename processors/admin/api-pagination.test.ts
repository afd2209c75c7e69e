// Proves the list endpoints' cursors: every key round-trips, anything else is a 400 naming cursor,
// limits are 1..200, and walking pages by cursor sees every row once in order.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HttpRejection } from '../../core/http/http-errors.ts';
import { decodeCursor, encodeCursor, isoInstantPattern, pageOf, parsePageLimit } from './api-pagination.ts';
import { parseQuery, payoutBatchListQuery } from './api-schemas.ts';

const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const instant = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).chain((date) =>
  fc.integer({ min: 0, max: 999 }).map((micros) => `${date.toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`),
);
const id = fc.stringMatching(idPattern);

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpRejection) return `${error.status} ${error.body.field}`;
    throw error;
  }
  return undefined;
}

describe('cursors', () => {
  it('decode to the key they were made from', () => {
    fc.assert(
      fc.property(instant, id, (at, key) => {
        expect(decodeCursor(encodeCursor([at, key]), [isoInstantPattern, idPattern])).toEqual([at, key]);
      }),
    );
  });

  it('refuse anything else with 400 naming cursor', () => {
    const patterns = [isoInstantPattern, idPattern];
    const bad = [
      '',
      '!!!',
      encodeCursor(['2026-01-01T00:00:00.000000Z']),
      encodeCursor(['2026-01-01T00:00:00Z', 'a']),
      encodeCursor(['2026-01-01T00:00:00.000000Z', 'a b']),
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('not json').toString('base64url'),
      'x'.repeat(2_000),
    ];
    for (const cursor of bad) expect(fieldOf(() => decodeCursor(cursor, patterns))).toBe('400 cursor');
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (text) => {
        const outcome = fieldOf(() => decodeCursor(text, patterns));
        expect(outcome === undefined || outcome === '400 cursor').toBe(true);
      }),
    );
  });
});

describe('limit', () => {
  it('is 1..200, default 50', () => {
    expect(parsePageLimit(undefined)).toBe(50);
    expect(parsePageLimit('1')).toBe(1);
    expect(parsePageLimit('200')).toBe(200);
    for (const bad of ['0', '201', '-1', '1.5', '01', 'abc', '', ['1', '2']]) expect(fieldOf(() => parsePageLimit(bad))).toBe('400 limit');
  });
});

describe('pages', () => {
  it('walk every row once, in order, whatever the page size', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { maxLength: 60 }), fc.integer({ min: 1, max: 20 }), (values, limit) => {
        const sorted = [...values].sort((a, b) => a - b);
        const seen: number[] = [];
        let after: number | null = null;
        for (;;) {
          const start: number | null = after;
          const rows: number[] = sorted.filter((value) => start === null || value > start).slice(0, limit + 1);
          const page: { items: readonly number[]; next_cursor: string | null } = pageOf(rows, limit, (value) => [String(value)], (value) => value);
          seen.push(...page.items);
          if (page.next_cursor === null) break;
          after = Number(decodeCursor(page.next_cursor, [/^\d+$/])[0]);
        }
        expect(seen).toEqual(sorted);
      }),
    );
  });
});

describe('date filters', () => {
  it('accept dates that exist and refuse the rest, naming the field', () => {
    for (const good of ['2026-02-28', '2024-02-29', '2026-12-03T10:00Z', '2026-12-03T10:00:00.123456+02:00']) expect(parseQuery(payoutBatchListQuery, { from: good }).from).toBe(good);
    for (const bad of ['2026-02-30', '2025-02-29', '2026-13-01', '2026-12-03T25:00Z', 'yesterday', '2026-12-03T10:00']) {
      expect(fieldOf(() => parseQuery(payoutBatchListQuery, { from: bad }))).toBe('400 from');
    }
  });
});
