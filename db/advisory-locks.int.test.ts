// Proves that PostgreSQL computes the same advisory-lock key as JS (db/advisory-locks.ts): the
// router locks clients by a key built in SQL from rows, the admin API by the key built in JS, and
// the two exclude each other only if the numbers are equal — checked here on the real database,
// for the key expression and for the lock it actually takes (pg_locks).
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../test/support/database.ts';
import { advisoryLockKey, advisoryLockKeySql, clientLock, clientLockSql } from './advisory-locks.ts';

let pool: DatabasePool;

beforeAll(async () => {
  pool = await openTestDatabase();
});

afterAll(async () => {
  await pool.end();
});

describe('advisory lock keys in SQL', () => {
  it('are the keys JS computes, for any name', async () => {
    const names = ['settlement', 'client:-1001', 'client:', 'payment:0b9f6c1e', 'chain-sender:0xabc', 'naïve ünïcödé ✓', 'x'.repeat(300)];
    for (const name of names) {
      const key = await pool.oneFirst(sql.type(z.object({ key: z.bigint() }))`SELECT ${advisoryLockKeySql(sql.fragment`${name}::text`)} AS key`);
      expect(key, name).toBe(advisoryLockKey(name));
    }
  });

  it('lock the same client as the admin API when the router locks it from a row', async () => {
    const clientIds = ['-1001', '-1002'];
    await pool.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`
        SELECT pg_advisory_xact_lock(${clientLockSql(sql.fragment`locked.client_id`)})
        FROM unnest(${sql.array(clientIds, 'text')}) AS locked (client_id)`);
      // A bigint advisory lock shows its high half as classid and its low half as objid.
      const held = await transaction.any(sql.type(z.object({ classid: z.bigint(), objid: z.bigint() }))`
        SELECT classid::int8 AS classid, objid::int8 AS objid FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = 1`);
      const keys = held.map((lock) => BigInt.asIntN(64, (lock.classid << 32n) | lock.objid));
      expect(keys.sort()).toEqual(clientIds.map((clientId) => clientLock(clientId)).sort());
    });
  });
});
