// Proves the pool hands money back exactly (numeric → Decimal, int8 → bigint, never a JS number),
// accepts Decimals through decimalValue, parses timestamps in any session time zone, and that
// PostgreSQL errors are classified by SQLSTATE — against a real PostgreSQL started for this file.
import { SchemaValidationError, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../core/money.ts';
import { isRetriable, UnavailableError } from '../core/errors.ts';
import { findFreePort, startTestPostgres, type TestPostgres } from '../stack/postgres/start-test-postgres.ts';
import { decimalValue } from './decimal-value.ts';
import {
  classifyDatabaseError,
  ConstraintViolationError,
  DatabaseTimeoutError,
  DatabaseUnavailableError,
  DeadlockError,
  ForeignKeyViolationError,
  isUniqueViolation,
  ProtocolViolationError,
  SerializationFailureError,
  sqlStateOf,
  UniqueViolationError,
} from './errors.ts';
import { createDatabasePool, parseTimestamp } from './pool.ts';
import { decimalColumn } from './column-types.ts';

const decimal = decimalColumn;
let server: TestPostgres;
let pool: DatabasePool;

beforeAll(async () => {
  server = await startTestPostgres();
  pool = await createDatabasePool(server.databaseUrl, { maximumPoolSize: 4, applicationName: 'pool-test' });
  await pool.query(sql.unsafe`create table clients (id text primary key)`);
  await pool.query(sql.unsafe`
    create table payments (
      id text primary key,
      client_id text not null references clients (id),
      amount numeric(38, 18) not null check (amount > 0),
      base_units int8
    )`);
  await pool.query(sql.unsafe`insert into clients (id) values ('alice')`);
});

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

async function errorOf(operation: () => Promise<unknown>): Promise<unknown> {
  try {
    await operation();
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to fail');
}

describe('pool settings', () => {
  it('sends the explicit limits to every session', async () => {
    const settings = await pool.one(sql.type(z.object({ application: z.string(), statement: z.string(), idle: z.string() }))`
      select current_setting('application_name') as application,
             current_setting('statement_timeout') as statement,
             current_setting('idle_in_transaction_session_timeout') as idle`);
    expect(settings).toEqual({ application: 'pool-test', statement: '30s', idle: '1min' });
  });
});

describe('type parsers', () => {
  it('returns numeric as an exact Decimal, however many digits', async () => {
    // z.custom checks the runtime type: a string or number here would fail the query.
    const row = await pool.one(sql.type(z.object({ big: decimal, tiny: decimal, negative: decimal, list: z.array(decimal) }))`
      select '123456789012345678.123456789012345678'::numeric as big,
             '0.000001'::numeric as tiny,
             '-0.1'::numeric as negative,
             array['1.10', '2.200']::numeric[] as list`);
    expect(row.big.toFixed()).toBe('123456789012345678.123456789012345678');
    expect(row.tiny.toFixed()).toBe('0.000001');
    expect(row.negative.toFixed()).toBe('-0.1');
    expect(row.list.map((value) => value.toFixed())).toEqual(['1.1', '2.2']);
    // The parsed value is the project's Decimal: arithmetic keeps 100 significant digits.
    expect(row.big.plus(row.tiny).toFixed()).toBe('123456789012345678.123457789012345678');
  });

  it('returns int8 as bigint at both ends of its range', async () => {
    const row = await pool.one(sql.type(z.object({ max: z.bigint(), min: z.bigint(), counted: z.bigint() }))`
      select 9223372036854775807::int8 as max, (-9223372036854775807 - 1)::int8 as min, count(*) as counted from clients`);
    expect(row).toEqual({ max: 9223372036854775807n, min: -9223372036854775808n, counted: 1n });
  });

  it('stores a Decimal through decimalValue and a bigint directly, and reads them back unchanged', async () => {
    const amount = new Decimal('12345678901234567890.123456789012345678');
    const baseUnits = 9223372036854775807n;
    await pool.query(sql.unsafe`
      insert into payments (id, client_id, amount, base_units)
      values ('p-exact', 'alice', ${decimalValue(amount)}, ${baseUnits})`);
    const stored = await pool.one(
      sql.type(z.object({ amount: decimal, base_units: z.bigint() }))`
        select amount, base_units from payments where id = 'p-exact'`,
    );
    expect(stored.amount.equals(amount)).toBe(true);
    expect(stored.amount.toFixed()).toBe('12345678901234567890.123456789012345678');
    expect(stored.base_units).toBe(baseUnits);
  });

  it('refuses a Decimal passed as a raw value, and decimalValue refuses non-finite values', () => {
    const raw = new Decimal('1.5') as unknown as string; // what a careless caller would do
    // slonik's tag throws at once, before any query: the reason decimalValue exists.
    expect(() => sql.unsafe`select ${raw}::numeric`).toThrow(/Unexpected value expression/);
    expect(() => decimalValue(new Decimal(Number.NaN))).toThrow(/finite Decimal/);
    expect(() => decimalValue(new Decimal(Number.POSITIVE_INFINITY))).toThrow(/finite Decimal/);
  });

  it('returns timestamps as Dates, whatever the session time zone', async () => {
    for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Europe/Amsterdam']) {
      const row = await pool.connect(async (connection) => {
        await connection.query(sql.unsafe`select set_config('TimeZone', ${zone}, false)`);
        return connection.one(sql.type(z.object({ with_zone: z.date(), without_zone: z.date(), historic: z.date(), day: z.string() }))`
          select '2024-05-01 12:34:56.789+00'::timestamptz as with_zone,
                 '2024-05-01 12:34:56.789'::timestamp as without_zone,
                 '1890-01-01 00:00:00+00'::timestamptz as historic,
                 '2024-05-01'::date as day`);
      });
      expect(row.with_zone, zone).toEqual(new Date('2024-05-01T12:34:56.789Z'));
      expect(row.without_zone, zone).toEqual(new Date('2024-05-01T12:34:56.789Z'));
      // Amsterdam's offset in 1890 was +00:19:32: PostgreSQL prints the seconds.
      expect(row.historic, zone).toEqual(new Date('1890-01-01T00:00:00Z'));
      expect(row.day, zone).toBe('2024-05-01');
    }
  });

  it('checks rows against the sql.type schema, so a numeric can never pass as a number', async () => {
    await expect(pool.one(sql.type(z.object({ amount: z.number() }))`select 1.5::numeric as amount`)).rejects.toBeInstanceOf(
      SchemaValidationError,
    );
  });

  it('refuses timestamps a Date cannot hold rather than returning a wrong one', () => {
    expect(() => parseTimestamp('infinity', true)).toThrow(/Cannot represent/);
    expect(parseTimestamp('2024-05-01 12:34:56.5-03:30', true)).toEqual(new Date('2024-05-01T16:04:56.500Z'));
  });
});

describe('error classification', () => {
  it('maps a unique violation to a non-retriable UniqueViolationError naming the constraint', async () => {
    const error = await errorOf(() => pool.query(sql.unsafe`insert into clients (id) values ('alice')`));
    expect(sqlStateOf(error)).toBe('23505');
    const classified = classifyDatabaseError(error);
    expect(classified).toBeInstanceOf(UniqueViolationError);
    expect(classified.retriable).toBe(false);
    expect(classified.message).toMatch(/clients_pkey.*Key \(id\)=\(alice\) already exists.*SQLSTATE 23505/);
    expect(classified.context).toMatchObject({ sqlState: '23505', constraint: 'clients_pkey', table: 'clients' });
    expect(isUniqueViolation(error, 'clients_pkey')).toBe(true);
    expect(isUniqueViolation(error, 'other_constraint')).toBe(false);
  });

  it('maps foreign key and check violations', async () => {
    const foreignKey = classifyDatabaseError(
      await errorOf(() => pool.query(sql.unsafe`insert into payments (id, client_id, amount) values ('p-fk', 'nobody', 1)`)),
    );
    expect(foreignKey).toBeInstanceOf(ForeignKeyViolationError);
    expect(foreignKey.context).toMatchObject({ sqlState: '23503', constraint: 'payments_client_id_fkey' });
    const check = classifyDatabaseError(
      await errorOf(() => pool.query(sql.unsafe`insert into payments (id, client_id, amount) values ('p-neg', 'alice', -1)`)),
    );
    expect(check).toBeInstanceOf(ConstraintViolationError);
    expect(check.retriable).toBe(false);
  });

  it('marks serialization failures and deadlocks retriable', async () => {
    const raise = (sqlState: string) =>
      errorOf(() => pool.query(sql.unsafe`do $$ begin raise exception 'simulated' using errcode = ${sql.literalValue(sqlState)}; end $$`));
    const serialization = classifyDatabaseError(await raise('40001'));
    expect(serialization).toBeInstanceOf(SerializationFailureError);
    expect(isRetriable(serialization)).toBe(true);
    const deadlock = classifyDatabaseError(await raise('40P01'));
    expect(deadlock).toBeInstanceOf(DeadlockError);
    expect(isRetriable(deadlock)).toBe(true);
  });

  it('maps a statement with more than 65,535 parameters (08P01, the count wraps) to a non-retriable ProtocolViolationError', async () => {
    const values = Array.from({ length: 70_000 }, (_, index) => sql.fragment`(${index})`);
    const error = await errorOf(() => pool.query(sql.unsafe`select count(*) from (values ${sql.join(values, sql.fragment`, `)}) as v (n)`));
    expect(sqlStateOf(error)).toBe('08P01');
    const classified = classifyDatabaseError(error);
    expect(classified).toBeInstanceOf(ProtocolViolationError);
    expect(isRetriable(classified)).toBe(false);
    // The session survived: only the statement was refused.
    expect(await pool.oneFirst(sql.unsafe`select 1`)).toBe(1);
  });

  it('maps a statement timeout to a retriable DatabaseTimeoutError', async () => {
    const impatient = await createDatabasePool(server.databaseUrl, { statementTimeoutMs: 100, maximumPoolSize: 1 });
    try {
      const classified = classifyDatabaseError(await errorOf(() => impatient.query(sql.unsafe`select pg_sleep(2)`)));
      expect(classified).toBeInstanceOf(DatabaseTimeoutError);
      expect(classified.retriable).toBe(true);
    } finally {
      await impatient.end();
    }
  });

  it('maps a terminated backend and an unreachable server to retriable UnavailableErrors', async () => {
    const terminated = classifyDatabaseError(
      await errorOf(() => pool.connect((connection) => connection.query(sql.unsafe`select pg_terminate_backend(pg_backend_pid())`))),
    );
    expect(terminated).toBeInstanceOf(DatabaseUnavailableError);
    expect(terminated).toBeInstanceOf(UnavailableError);
    expect(terminated.retriable).toBe(true);

    const closedPort = await findFreePort();
    const unreachable = await errorOf(() => createDatabasePool(`postgres://postgres:postgres@127.0.0.1:${closedPort}/none`, { connectionTimeoutMs: 1_000 }));
    expect(unreachable).toBeInstanceOf(DatabaseUnavailableError);
    expect(isRetriable(unreachable)).toBe(true);
    expect((unreachable as Error).message).toMatch(/ECONNREFUSED/);
    // The pool still works after losing one of its connections.
    expect(await pool.oneFirst(sql.unsafe`select 1`)).toBe(1);
  });
});
