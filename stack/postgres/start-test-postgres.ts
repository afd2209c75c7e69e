// A throw-away PostgreSQL for integration tests: a fresh data directory under the system temp
// directory, a free port, and a stop() that also deletes the directory.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger, type Logger } from '../../core/logger.ts';
import { findFreePort } from '../service.ts';
import { startNativePostgres, type RunningNativePostgres } from './start-native-postgres.ts';

// Tests across the repository take their ports from here, next to the server they start.
export { findFreePort };

export interface TestPostgres extends RunningNativePostgres {
  readonly port: number;
  readonly dataDirectory: string;
  /** A URL for `database` on this server, creating the database first (for tests that need isolation). */
  createDatabase(database: string): Promise<string>;
}

export async function startTestPostgres(log: Logger = testLogger()): Promise<TestPostgres> {
  const baseDirectory = await createTestDirectory('payout-pg-test-');
  const dataDirectory = join(baseDirectory, 'data');
  const port = await findFreePort();
  let server: RunningNativePostgres;
  try {
    server = await startNativePostgres({ port, dataDirectory, log });
  } catch (error) {
    await rm(baseDirectory, { recursive: true, force: true });
    throw error;
  }
  return {
    ...server,
    port,
    dataDirectory,
    createDatabase: async (database) => {
      const client = new pg.Client({ connectionString: server.databaseUrl });
      await client.connect();
      try {
        await client.query(`create database ${client.escapeIdentifier(database)}`);
      } finally {
        await client.end();
      }
      const url = new URL(server.databaseUrl);
      url.pathname = `/${encodeURIComponent(database)}`;
      return url.toString();
    },
    stop: async () => {
      await server.stop();
      await rm(baseDirectory, { recursive: true, force: true });
    },
  };
}

/**
 * mkdtemp makes the directory 0700. As root the server runs as the `postgres` OS user, which must
 * be able to enter it, so it is opened to others for search (x) only.
 */
export async function createTestDirectory(prefix: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  await chmod(directory, 0o711);
  return directory;
}

export function testLogger(): Logger {
  return createLogger({ name: 'test', level: process.env['LOG_LEVEL'] ?? 'silent' });
}
