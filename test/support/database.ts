// A slonik pool on the test stack's database, for assertions on what the processors wrote.
import { inject } from 'vitest';
import type { DatabasePool } from 'slonik';
import { createDatabasePool } from '../../db/pool.ts';

export async function openTestDatabase(): Promise<DatabasePool> {
  return createDatabasePool(inject('endpoints').databaseUrl);
}
