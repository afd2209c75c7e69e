// Proves, with fast-check over any chunk size and any placement of poison records, that bisection
// applies every good record exactly once in one committed group and in chunk order, reports every
// poison record exactly once, stays within its bound of applies, and lets an outage end it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyCountMax, applyIsolatingPoison, type ApplyOutcome } from './poison-isolation.ts';

/** A chunk of record numbers 0..n-1 and the set of those that are poison. */
const chunkWithPoison = fc
  .integer({ min: 0, max: 200 })
  .chain((size) => fc.tuple(fc.constant(size), fc.subarray(Array.from({ length: size }, (_, index) => index))));

/** A stand-in transaction: fails whole when the group holds a poison record, else commits it. */
function transactionLog(poison: ReadonlySet<number>) {
  const committed: number[][] = [];
  let applies = 0;
  const apply = (group: readonly number[]): Promise<ApplyOutcome<string>> => {
    applies += 1;
    const bad = group.find((record) => poison.has(record));
    if (bad !== undefined) return Promise.resolve({ ok: false, error: `record ${bad} refused` });
    committed.push([...group]);
    return Promise.resolve({ ok: true });
  };
  return { apply, committed, applies: () => applies };
}

describe('applyIsolatingPoison', () => {
  it('applies every good record exactly once, in order, and isolates every poison record exactly once, within the bound', async () => {
    await fc.assert(
      fc.asyncProperty(chunkWithPoison, async ([size, poisonList]) => {
        const records = Array.from({ length: size }, (_, index) => index);
        const poison = new Set(poisonList);
        const log = transactionLog(poison);
        const result = await applyIsolatingPoison(records, log.apply);

        const good = records.filter((record) => !poison.has(record));
        // Exactly once and in chunk order: the committed groups, concatenated, are the good records.
        expect(log.committed.flat()).toEqual(good);
        expect(result.appliedGroups).toEqual(log.committed);
        expect(result.poison.map((entry) => entry.record)).toEqual(records.filter((record) => poison.has(record)));
        for (const entry of result.poison) expect(entry.error).toBe(`record ${entry.record} refused`);
        expect(result.applyCount).toBe(log.applies());
        expect(result.applyCount).toBeLessThanOrEqual(applyCountMax(size, poison.size));
        // A clean chunk costs the one apply it always did.
        if (poison.size === 0 && size > 0) expect(result.applyCount).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  it('applies every record when a group fails only as a whole (two records in conflict together)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 100 }), async (size) => {
        const records = Array.from({ length: size }, (_, index) => index);
        const committed: number[] = [];
        const result = await applyIsolatingPoison(records, (group) => {
          if (group.includes(0) && group.includes(size - 1)) return Promise.resolve({ ok: false, error: 'together' } as const);
          committed.push(...group);
          return Promise.resolve({ ok: true } as const);
        });
        expect(committed).toEqual(records);
        expect(result.poison).toEqual([]);
      }),
    );
  });

  it('ends the isolation with the thrown error, so an outage is waited out and never dead-lettered', async () => {
    const outage = new Error('PostgreSQL is unavailable');
    let applies = 0;
    const isolation = applyIsolatingPoison([1, 2, 3, 4], (group) => {
      applies += 1;
      if (group.length === 4) return Promise.resolve({ ok: false, error: 'poison somewhere' } as const);
      return Promise.reject(outage);
    });
    await expect(isolation).rejects.toBe(outage);
    expect(applies).toBe(2);
  });

  it('needs no apply for an empty chunk', async () => {
    const result = await applyIsolatingPoison([], () => Promise.reject(new Error('not called')));
    expect(result).toEqual({ appliedGroups: [], poison: [], applyCount: 0 });
  });
});
