// Proves the shared ChangeNow rate budget against PostgreSQL: two pools — what two processes see —
// drawing on one API key's budget at once get slots at least one interval apart between them, each
// caller is let go only once its slot has come on the database's clock, and another key has a
// budget of its own. The schedule itself is proved on a fake clock in rate-limiter.test.ts.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../db/pool.ts';
import { inject } from 'vitest';
import { createSharedRateBudget, rateBudgetKeyOf } from './rate-budget.ts';
import type { RateSlot } from './rate-limiter.ts';

const databaseUrl = inject('endpoints').databaseUrl;
const first = await createDatabasePool(databaseUrl, { applicationName: 'rate-budget-test-a' });
const second = await createDatabasePool(databaseUrl, { applicationName: 'rate-budget-test-b' });
afterAll(async () => {
  await first.end();
  await second.end();
});

const databaseNowMs = async (): Promise<number> =>
  first.oneFirst(sql.type(z.object({ now_ms: z.number() }))`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`);

describe('the shared ChangeNow rate budget', () => {
  it('spaces the requests of two processes together at the rate, each let go no earlier than its slot', async () => {
    const apiKey = `rate-budget-test-${randomUUID()}`;
    const ratePerSecond = 40;
    const intervalMs = 1_000 / ratePerSecond;
    const budgets = [first, second].map((db) => createSharedRateBudget({ db, apiKey, ratePerSecond }));
    const granted: { slot: RateSlot; releasedAtMs: number }[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, index) => {
        const slot = await budgets[index % 2]!.acquire();
        granted.push({ slot, releasedAtMs: await databaseNowMs() });
      }),
    );
    const slots = granted.map(({ slot }) => slot.slotAtMs).sort((left, right) => left - right);
    expect(slots).toHaveLength(30);
    for (let index = 1; index < slots.length; index += 1) {
      // The database computes in microseconds; a slot is never closer than an interval to the previous one.
      expect(slots[index]! - slots[index - 1]!).toBeGreaterThanOrEqual(intervalMs - 0.01);
    }
    for (const { slot, releasedAtMs } of granted) expect(releasedAtMs).toBeGreaterThanOrEqual(slot.slotAtMs - 1);
    // Both pools drew from the one row of this key.
    const rows = await first.oneFirst(
      sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM changenow_rate_budget WHERE key_hash = ${rateBudgetKeyOf(apiKey)}`,
    );
    expect(rows).toBe(1);
  }, 30_000);

  it('keeps one budget per API key, and never stores the key', async () => {
    const apiKey = `rate-budget-test-${randomUUID()}`;
    const other = `rate-budget-test-${randomUUID()}`;
    // A slow rate: the first key's second request would wait 10 s; the other key's first does not.
    const slow = createSharedRateBudget({ db: first, apiKey, ratePerSecond: 0.1, sleep: () => Promise.resolve() });
    await slow.acquire();
    expect((await slow.acquire()).waitedMs).toBeGreaterThan(9_000);
    expect((await createSharedRateBudget({ db: second, apiKey: other, ratePerSecond: 0.1 }).acquire()).waitedMs).toBe(0);
    const stored = await first.any(sql.type(z.object({ key_hash: z.string() }))`SELECT key_hash FROM changenow_rate_budget`);
    expect(stored.map((row) => row.key_hash).join(' ')).not.toContain('rate-budget-test');
  });
});
