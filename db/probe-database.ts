// Readiness probes for PostgreSQL: `select 1` through an open pool, or through a short-lived
// connection when only the URL is known (stack start-up).
import pg from 'pg';
import { sql, type DatabasePool } from 'slonik';
import { UnavailableError } from '../core/errors.ts';

export async function probeDatabase(pool: DatabasePool): Promise<void> {
  try {
    await pool.query(sql.unsafe`SELECT 1`);
  } catch (error) {
    throw new UnavailableError('PostgreSQL is not reachable', { cause: error });
  }
}

export async function probeDatabaseUrl(databaseUrl: string, connectionTimeoutMs = 3_000): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: connectionTimeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new UnavailableError('PostgreSQL is not reachable', { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}
