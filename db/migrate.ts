// Applies db/migrations/NNN_name.sql. Written here rather than taken from npm because none of the
// candidates covers what a money ledger needs: @slonik/migrator only supports slonik 27–29;
// node-pg-migrate takes an advisory lock but keeps no checksum, so an edited migration goes unnoticed
// (salsita/node-pg-migrate#1138, open); postgrator checks md5 checksums but takes no lock, so two
// processes starting together both migrate (rickbergfalk/postgrator#100, declined). The rules:
// - files run in the order of their numeric prefix, each in its own transaction together with the
//   row that records it, so a migration is either fully applied and recorded or not at all;
// - a session-level pg_advisory_lock is held for the whole run: concurrent starters queue, and the
//   later ones find nothing left to do;
// - the sha256 of every applied file is compared before anything runs: an edited, missing or
//   out-of-order migration stops the run, naming the file (the fix is a new migration);
// - files must not contain BEGIN/COMMIT of their own, nor statements that cannot run inside a
//   transaction (CREATE INDEX CONCURRENTLY); the ledger tables are small enough not to need them.
// It uses its own pg.Client, not the slonik pool: slonik sends queries with the extended protocol,
// which refuses several statements in one query, and a migration file is many statements.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { DatabasePool } from 'slonik';
import { PipelineError, UnavailableError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { classifyDatabaseError, sqlStateOf, sqlStates } from './errors.ts';
import { migrationsLock } from './advisory-locks.ts';

export type MigrateDatabaseOptions = ({ pool: DatabasePool } | { databaseUrl: string }) & {
  /** Defaults to db/migrations next to this file. */
  directory?: string;
  log: Logger;
  /** How long to wait for another process's migration run before giving up. */
  lockTimeoutMs?: number;
};

export interface MigrationResult {
  /** File names applied by this run, in order. */
  applied: string[];
  /** How many were already recorded before this run. */
  alreadyApplied: number;
}

/** A migration cannot be applied or the recorded history contradicts the files: a bug to fix, not retry. */
export class MigrationError extends PipelineError {
  constructor(message: string, context: Record<string, unknown>, cause?: unknown) {
    super(message, { retriable: false, context, cause });
  }
}

export const defaultMigrationsDirectory = fileURLToPath(new URL('./migrations/', import.meta.url));

const migrationFileName = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

// One fixed key for every process of the pipeline; derived from a name so it cannot collide by
// accident with a small hand-picked number used elsewhere.
const lockKey = migrationsLock();

export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** Reads and orders the migration files; refuses names that would make the order ambiguous. */
export async function readMigrationFiles(directory: string): Promise<MigrationFile[]> {
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch (error) {
    throw new MigrationError(`Cannot read the migrations directory ${directory}`, { directory }, error);
  }
  const numbered: { name: string; number: bigint }[] = [];
  for (const name of entries) {
    if (!name.endsWith('.sql')) continue;
    const match = migrationFileName.exec(name);
    if (match?.[1] === undefined) {
      throw new MigrationError(`Migration file ${name} does not match NNN_name.sql (letters, digits, _ and -)`, { directory, name });
    }
    numbered.push({ name, number: BigInt(match[1]) });
  }
  numbered.sort((left, right) => (left.number < right.number ? -1 : left.number > right.number ? 1 : 0));
  for (let index = 1; index < numbered.length; index += 1) {
    const previous = numbered[index - 1];
    const current = numbered[index];
    if (previous !== undefined && current !== undefined && previous.number === current.number) {
      throw new MigrationError(`Migrations ${previous.name} and ${current.name} share the number ${current.number}`, {
        directory,
      });
    }
  }
  return Promise.all(
    numbered.map(async ({ name }) => {
      const sql = await readFile(join(directory, name), 'utf8');
      return { name, sql, checksum: checksumOf(sql) };
    }),
  );
}

/** sha256 of the text with CRLF read as LF, so a Windows checkout does not look like an edit. */
export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n'), 'utf8').digest('hex');
}

export async function migrateDatabase(options: MigrateDatabaseOptions): Promise<MigrationResult> {
  const { log } = options;
  const directory = options.directory ?? defaultMigrationsDirectory;
  // Files first: a malformed directory fails before touching the database.
  const files = await readMigrationFiles(directory);
  const client = new pg.Client(clientConfigOf(options));
  // Without a listener, a connection dropped between queries would crash the process.
  client.on('error', (error) => log.warn({ err: error }, 'migration connection failed'));
  try {
    await client.connect();
  } catch (error) {
    throw classifyDatabaseError(error);
  }
  try {
    await acquireLock(client, options.lockTimeoutMs ?? 60_000);
    await run(client, `
      create table if not exists schema_migrations (
        name text primary key,
        checksum text not null,
        applied_at timestamptz not null default now(),
        execution_ms integer not null
      )`);
    const recorded = await run<{ name: string; checksum: string }>(client, 'select name, checksum from schema_migrations');
    const pending = pendingMigrations(files, recorded.rows, directory);
    const applied: string[] = [];
    for (const file of pending) {
      await applyMigration(client, file, log);
      applied.push(file.name);
    }
    log.info({ applied, alreadyApplied: recorded.rows.length, directory }, applied.length === 0 ? 'database schema is up to date' : 'database migrated');
    return { applied, alreadyApplied: recorded.rows.length };
  } finally {
    // Ending the session releases the advisory lock, even if the run failed half-way.
    await client.end().catch((error: unknown) => log.warn({ err: error }, 'closing the migration connection failed'));
  }
}

function pendingMigrations(files: readonly MigrationFile[], recorded: readonly { name: string; checksum: string }[], directory: string): MigrationFile[] {
  const fileByName = new Map(files.map((file) => [file.name, file]));
  const recordedByName = new Map(recorded.map((row) => [row.name, row.checksum]));

  const edited = files.filter((file) => {
    const checksum = recordedByName.get(file.name);
    return checksum !== undefined && checksum !== file.checksum;
  });
  if (edited.length > 0) {
    const names = edited.map((file) => file.name);
    throw new MigrationError(
      `Applied migration${names.length > 1 ? 's' : ''} ${names.join(', ')} changed since ${names.length > 1 ? 'they were' : 'it was'} applied ` +
        `(sha256 differs). Restore the original file and put the change in a new migration.`,
      { directory, migrations: names },
    );
  }
  const missing = recorded.filter((row) => !fileByName.has(row.name)).map((row) => row.name);
  if (missing.length > 0) {
    throw new MigrationError(
      `The database has migration${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that ${directory} does not: ` +
        'this code is older than the schema, or a migration file was deleted or renamed.',
      { directory, migrations: missing },
    );
  }
  const pending = files.filter((file) => !recordedByName.has(file.name));
  const lastAppliedIndex = files.reduce((last, file, index) => (recordedByName.has(file.name) ? index : last), -1);
  const outOfOrder = pending.filter((file) => files.indexOf(file) < lastAppliedIndex).map((file) => file.name);
  if (outOfOrder.length > 0) {
    throw new MigrationError(
      `Migration${outOfOrder.length > 1 ? 's' : ''} ${outOfOrder.join(', ')} sort${outOfOrder.length > 1 ? '' : 's'} before one already applied: ` +
        'renumber it after the last applied migration.',
      { directory, migrations: outOfOrder },
    );
  }
  return pending;
}

async function acquireLock(client: pg.Client, lockTimeoutMs: number): Promise<void> {
  await run(client, `select set_config('lock_timeout', $1, false)`, [`${Math.max(1, Math.round(lockTimeoutMs))}ms`]);
  try {
    await client.query('select pg_advisory_lock($1)', [lockKey.toString()]);
  } catch (error) {
    if (sqlStateOf(error) !== sqlStates.lockNotAvailable) throw classifyDatabaseError(error);
    const holder = await run<{ pid: number; application_name: string }>(
      client,
      `select l.pid, a.application_name from pg_locks l join pg_stat_activity a using (pid)
        where l.locktype = 'advisory' and l.granted and l.classid = $1 and l.objid = $2 and l.objsubid = 1`,
      [BigInt.asUintN(32, lockKey >> 32n).toString(), BigInt.asUintN(32, lockKey).toString()],
    );
    const owner = holder.rows[0];
    throw new UnavailableError(
      `Another process (${owner === undefined ? 'unknown' : `pid ${owner.pid}, ${owner.application_name || 'no application_name'}`}) ` +
        `has been migrating the database for longer than ${lockTimeoutMs} ms`,
      { cause: error, context: { lockTimeoutMs, holderPid: owner?.pid } },
    );
  } finally {
    // Must not replace the error that brought us here; a dead connection fails the next query anyway.
    await client.query('reset lock_timeout').catch(() => undefined);
  }
}

async function applyMigration(client: pg.Client, file: MigrationFile, log: Logger): Promise<void> {
  const startedAt = performance.now();
  await run(client, 'begin');
  try {
    // No parameters: pg then uses the simple query protocol, which runs every statement of the file.
    await client.query(file.sql);
    await client.query('insert into schema_migrations (name, checksum, execution_ms) values ($1, $2, $3)', [
      file.name,
      file.checksum,
      Math.round(performance.now() - startedAt),
    ]);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    const classified = classifyDatabaseError(error);
    if (classified.retriable) throw classified;
    const line = lineOf(file.sql, error);
    throw new MigrationError(
      `Migration ${file.name} failed${line === undefined ? '' : ` at line ${line}`}: ${classified.message}`,
      { migration: file.name, line },
      error,
    );
  }
  log.info({ migration: file.name, ms: Math.round(performance.now() - startedAt) }, 'applied migration');
}

async function run<Row extends pg.QueryResultRow = pg.QueryResultRow>(client: pg.Client, text: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
  try {
    return await client.query<Row>(text, values);
  } catch (error) {
    throw classifyDatabaseError(error);
  }
}

// pg reports where the statement broke as a 1-based character offset into the text sent.
function lineOf(sql: string, error: unknown): number | undefined {
  const position = (error as { position?: unknown }).position;
  if (typeof position !== 'string') return undefined;
  const offset = Number.parseInt(position, 10);
  if (!Number.isSafeInteger(offset) || offset < 1) return undefined;
  return sql.slice(0, offset - 1).split('\n').length;
}

function clientConfigOf(options: MigrateDatabaseOptions): pg.ClientConfig {
  if ('pool' in options) {
    const { connectionUri, ssl } = options.pool.configuration;
    return { connectionString: connectionUri, application_name: 'payout-pipeline-migrate', ...(ssl === undefined ? {} : { ssl }) };
  }
  return { connectionString: options.databaseUrl, application_name: 'payout-pipeline-migrate' };
}
