// Proves migrateDatabase applies NNN_name.sql files in numeric order, each atomically, records them,
// does nothing the second time, refuses edited or missing migrations, and applies once when several
// processes start together — each case on its own database of a real PostgreSQL, with tiny
// migrations written to a temp directory.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDirectory, startTestPostgres, testLogger, type TestPostgres } from '../stack/postgres/start-test-postgres.ts';
import { checksumOf, migrateDatabase, MigrationError, readMigrationFiles } from './migrate.ts';
import { createDatabasePool } from './pool.ts';

const log = testLogger();
let server: TestPostgres;
let baseDirectory: string;
let caseNumber = 0;

beforeAll(async () => {
  server = await startTestPostgres();
  baseDirectory = await createTestDirectory('payout-migrations-');
});

afterAll(async () => {
  await server?.stop();
  if (baseDirectory !== undefined) await rm(baseDirectory, { recursive: true, force: true });
});

/** A fresh database and migrations directory for one test case. */
async function freshCase(files: Record<string, string>): Promise<{ databaseUrl: string; directory: string }> {
  caseNumber += 1;
  const directory = join(baseDirectory, `case-${caseNumber}`);
  await mkdir(directory);
  for (const [name, text] of Object.entries(files)) await writeFile(join(directory, name), text);
  return { databaseUrl: await server.createDatabase(`migrate_case_${caseNumber}`), directory };
}

async function rows<Row extends pg.QueryResultRow>(databaseUrl: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

// 2 creates the table that 10 alters: numeric order must win over string order ("10" < "2").
const orderedMigrations = {
  '1_create_clients.sql': 'create table clients (id text primary key);\n',
  '2_create_payments.sql': 'create table payments (id text primary key, client_id text references clients (id));\n',
  '10_add_amount.sql': "alter table payments add column amount numeric(38, 18) not null default 0;\ninsert into clients values ('seeded');\n",
  'README.md': 'not a migration',
};

describe('migrateDatabase', () => {
  it('applies migrations in numeric order, records their checksums, and applies nothing the second time', async () => {
    const { databaseUrl, directory } = await freshCase(orderedMigrations);
    const first = await migrateDatabase({ databaseUrl, directory, log });
    expect(first).toEqual({ applied: ['1_create_clients.sql', '2_create_payments.sql', '10_add_amount.sql'], alreadyApplied: 0 });

    const recorded = await rows<{ name: string; checksum: string }>(databaseUrl, 'select name, checksum from schema_migrations order by applied_at, name');
    expect(recorded.map((row) => row.name).sort()).toEqual(['10_add_amount.sql', '1_create_clients.sql', '2_create_payments.sql']);
    expect(recorded.find((row) => row.name === '10_add_amount.sql')?.checksum).toBe(checksumOf(orderedMigrations['10_add_amount.sql']));

    const second = await migrateDatabase({ databaseUrl, directory, log });
    expect(second).toEqual({ applied: [], alreadyApplied: 3 });
    expect(await rows(databaseUrl, 'select id from clients')).toEqual([{ id: 'seeded' }]);
  });

  it('accepts a slonik pool instead of a URL', async () => {
    const { databaseUrl, directory } = await freshCase({ '001_one.sql': 'create table one (id int);' });
    const pool = await createDatabasePool(databaseUrl);
    try {
      expect(await migrateDatabase({ pool, directory, log })).toEqual({ applied: ['001_one.sql'], alreadyApplied: 0 });
    } finally {
      await pool.end();
    }
  });

  it('refuses to run when an applied migration was edited, naming the file, and applies nothing', async () => {
    const { databaseUrl, directory } = await freshCase(orderedMigrations);
    await migrateDatabase({ databaseUrl, directory, log });
    await writeFile(join(directory, '2_create_payments.sql'), 'create table payments (id text primary key, note text);\n');
    await writeFile(join(directory, '11_later.sql'), 'create table later (id int);\n');

    const failure = migrateDatabase({ databaseUrl, directory, log });
    await expect(failure).rejects.toBeInstanceOf(MigrationError);
    await expect(failure).rejects.toThrow(/Applied migration 2_create_payments\.sql changed since it was applied/);
    expect(await rows(databaseUrl, "select to_regclass('later') as later")).toEqual([{ later: null }]);
  });

  it('does not count CRLF line endings as an edit', async () => {
    const { databaseUrl, directory } = await freshCase({ '1_a.sql': 'create table a (id int);\ncreate table b (id int);\n' });
    await migrateDatabase({ databaseUrl, directory, log });
    await writeFile(join(directory, '1_a.sql'), 'create table a (id int);\r\ncreate table b (id int);\r\n');
    expect(await migrateDatabase({ databaseUrl, directory, log })).toEqual({ applied: [], alreadyApplied: 1 });
  });

  it('refuses a database with a migration the directory lacks, and one added before the last applied', async () => {
    const { databaseUrl, directory } = await freshCase({ '1_a.sql': 'create table a (id int);', '3_c.sql': 'create table c (id int);' });
    await migrateDatabase({ databaseUrl, directory, log });

    await writeFile(join(directory, '2_b.sql'), 'create table b (id int);');
    await expect(migrateDatabase({ databaseUrl, directory, log })).rejects.toThrow(/Migration 2_b\.sql sorts before one already applied/);

    await rm(join(directory, '2_b.sql'));
    await rm(join(directory, '3_c.sql'));
    await expect(migrateDatabase({ databaseUrl, directory, log })).rejects.toThrow(/has migration 3_c\.sql that .* does not/);
  });

  it('rolls a failing migration back entirely and reports its line', async () => {
    const { databaseUrl, directory } = await freshCase({
      '1_good.sql': 'create table good (id int);',
      '2_bad.sql': 'create table half (id int);\ninsert into half values (1);\nselect * from no_such_table;\n',
    });
    const failure = migrateDatabase({ databaseUrl, directory, log });
    await expect(failure).rejects.toBeInstanceOf(MigrationError);
    await expect(failure).rejects.toThrow(/Migration 2_bad\.sql failed at line 3: .*no_such_table/);
    expect(await rows(databaseUrl, "select to_regclass('good') is not null as good, to_regclass('half') is not null as half")).toEqual([
      { good: true, half: false },
    ]);
    expect(await rows(databaseUrl, 'select name from schema_migrations')).toEqual([{ name: '1_good.sql' }]);
  });

  it('refuses file names that make the order ambiguous', async () => {
    const { directory: duplicate } = await freshCase({ '1_a.sql': '', '01_b.sql': '' });
    await expect(readMigrationFiles(duplicate)).rejects.toThrow(/share the number 1/);
    const { directory: unnamed } = await freshCase({ 'create-things.sql': '' });
    await expect(readMigrationFiles(unnamed)).rejects.toThrow(/does not match NNN_name\.sql/);
  });

  it('applies each migration once when several processes migrate at the same moment', async () => {
    const { databaseUrl, directory } = await freshCase({
      // The sleep keeps the first runner inside the lock while the others arrive.
      '1_slow.sql': 'create table events (id serial primary key, note text);\nselect pg_sleep(0.5);\n',
      '2_insert.sql': "insert into events (note) values ('exactly once');\n",
    });
    const results = await Promise.all(Array.from({ length: 5 }, () => migrateDatabase({ databaseUrl, directory, log })));
    const appliedRuns = results.filter((result) => result.applied.length > 0);
    expect(appliedRuns).toEqual([{ applied: ['1_slow.sql', '2_insert.sql'], alreadyApplied: 0 }]);
    expect(results.filter((result) => result.applied.length === 0)).toHaveLength(4);
    expect(await rows(databaseUrl, 'select note from events')).toEqual([{ note: 'exactly once' }]);
  });

  it('gives up waiting for the lock after lockTimeoutMs with a retriable error naming the holder', async () => {
    const { databaseUrl, directory } = await freshCase({ '1_slow.sql': 'select pg_sleep(1.5);' });
    const holder = migrateDatabase({ databaseUrl, directory, log });
    await new Promise((resolveWait) => setTimeout(resolveWait, 300));
    const waiter = migrateDatabase({ databaseUrl, directory, log, lockTimeoutMs: 200 });
    await expect(waiter).rejects.toThrow(/Another process \(pid \d+, payout-pipeline-migrate\) has been migrating/);
    await expect(waiter).rejects.toMatchObject({ retriable: true });
    await expect(holder).resolves.toEqual({ applied: ['1_slow.sql'], alreadyApplied: 0 });
  });
});
