// The ChangeNow rate budget shared by every process that calls ChangeNow with one API key: a row of
// changenow_rate_budget (db/migrations/018_changenow_rate_budget.sql). ChangeNow limits requests per
// API key; with a budget per process, the connector and settlement together could exceed it.
//
// The schedule is the generic cell rate algorithm of rate-limiter.ts (its unit tests prove it on a
// fake clock), with the theoretical arrival time kept in PostgreSQL instead of a variable:
//
//   next_slot_at := greatest(next_slot_at, now) + interval        (one atomic UPDATE ... RETURNING)
//   this request's slot = next_slot_at - interval; it leaves at slot - tolerance
//
// The UPDATE's row lock serialises reservations from every process, so each reservation gets its
// own slot and the slots are `interval` apart: however many processes and connections ask, no more
// than `burst` requests are due at once and the rate holds. `now` is PostgreSQL's clock_timestamp(),
// one clock for every process, and the caller sleeps the difference (so its own clock's offset does
// not matter). A process that reserved a slot and died wastes that one slot, nothing more.
//
// Every caller of one key must use the same rate: each reservation advances the row by its own
// caller's interval (CHANGENOW_RATE_LIMIT_PER_SECOND is one setting for all processes).
import { createHash } from 'node:crypto';
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { gcraWaitMs, rateScheduleOf, sleepReal, type RateBudget, type RateSlot } from './rate-limiter.ts';

export interface SharedRateBudgetOptions {
  /** Any pool of the process; each reservation is one autocommitted statement. */
  db: CommonQueryMethods;
  apiKey: string;
  ratePerSecond: number;
  /** Requests that may go at once after an idle spell; 1 spaces every request evenly. */
  burst?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The budget row's key: sha256 of the API key, so the key is never stored. */
export function rateBudgetKeyOf(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

const reservationRow = z.object({ slot_at_ms: z.number(), now_ms: z.number() });

export function createSharedRateBudget(options: SharedRateBudgetOptions): RateBudget {
  const { db, ratePerSecond } = options;
  const burst = options.burst ?? 1;
  const { intervalMs, toleranceMs } = rateScheduleOf(ratePerSecond, burst);
  const sleep = options.sleep ?? sleepReal;
  const keyHash = rateBudgetKeyOf(options.apiKey);

  return {
    ratePerSecond,
    burst,
    async acquire(): Promise<RateSlot> {
      // One statement, one clock reading: the slot and "now" are both PostgreSQL's.
      const reserved = await db.one(sql.type(reservationRow)`
        WITH clock AS (SELECT clock_timestamp() AS at)
        INSERT INTO changenow_rate_budget AS budget (key_hash, next_slot_at)
        SELECT ${keyHash}, clock.at + ${intervalMs}::float8 * interval '1 millisecond' FROM clock
        ON CONFLICT (key_hash) DO UPDATE
          SET next_slot_at = greatest(budget.next_slot_at, (SELECT at FROM clock)) + ${intervalMs}::float8 * interval '1 millisecond'
        RETURNING
          (extract(epoch FROM budget.next_slot_at) * 1000 - ${intervalMs}::float8)::float8 AS slot_at_ms,
          (extract(epoch FROM (SELECT at FROM clock)) * 1000)::float8 AS now_ms
      `);
      const waitedMs = gcraWaitMs(reserved.slot_at_ms, reserved.now_ms, toleranceMs);
      if (waitedMs > 0) await sleep(waitedMs);
      return { slotAtMs: reserved.slot_at_ms, waitedMs };
    },
  };
}
