// Proves that settlement's tables have one writer: no `.ts` file outside processors/settlement/
// inserts into, updates, deletes from or truncates them (docs/ownership.md has the whole table).
// Reading them is fine anywhere — the admin API serves settlement's read model, reconciliation and
// liveness read everything. A write from elsewhere would decide about credits and payout batches
// outside the settlement lock, where settlement's decisions cannot see it coming.
//
// Scanned: every `.ts` file of the project. Not scanned:
// - test code (`*.test.ts` of every tier, and test/ with its fixtures, which plant rows on purpose),
//   and bench/support/, whose seeds plant a ledger of 10^6 rows in a benchmark's own database;
// - migrations (db/migrations/*.sql are not `.ts`; they create the tables);
// - node_modules/, .git/ and other dot folders (not the project's code).
// Comments are stripped before the scan, so prose about a table is not a write.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Written only by processors/settlement/ (the settlement process, and its routes and recovery served by the admin process). */
const settlementTables = [
  'usdt_credits',
  'payout_batches',
  'payout_batch_members',
  'payout_group_holds',
  'conversion_recoveries',
  'payout_trigger_requests',
  'payout_retry_requests',
] as const;


const projectRoot = join(import.meta.dirname, '..');
const ownerFolder = `processors${sep}settlement${sep}`;

interface TableWrite {
  readonly statement: string;
  readonly table: string;
}

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Every write statement in `source` on one of `tables`, however the SQL is cased or spaced. */
function tableWritesIn(source: string, tables: readonly string[]): TableWrite[] {
  const code = withoutComments(source);
  const writes: TableWrite[] = [];
  const statement = /\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?([^;`$]*)/gi;
  for (const match of code.matchAll(statement)) {
    const keyword = (match[1] ?? '').replace(/\s+/g, ' ').toUpperCase();
    const rest = match[2] ?? '';
    // TRUNCATE names a list of tables; the others name one, possibly schema-qualified or quoted.
    const named = keyword.startsWith('TRUNCATE') ? rest.split(/[\s,]+/).filter((word) => /^[\w."]+$/.test(word)) : [rest.trim().split(/[\s(]+/)[0] ?? ''];
    for (const name of named) {
      const table = name.replace(/"/g, '').replace(/^public\./i, '').toLowerCase();
      if (tables.includes(table)) writes.push({ statement: keyword.startsWith('TRUNCATE') ? 'TRUNCATE' : keyword, table });
    }
  }
  return writes;
}

function projectSourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') return [];
      if (['test', join('bench', 'support')].includes(relative(projectRoot, path))) return [];
      return projectSourceFiles(path);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the scan', () => {
  it('finds writes however they are written, and not reads or prose', () => {
    const sample = [
      'sql`INSERT INTO payout_batches (batch_id) VALUES (1)`',
      'sql`update   "payout_group_holds" SET x = 1`',
      'sql`DELETE FROM public.usdt_credits WHERE true`',
      'sql`TRUNCATE TABLE clients, payout_batch_members`',
      'sql`SELECT * FROM payout_batches FOR UPDATE`',
      '// UPDATE payout_batches SET next_retry_at: a comment, not a write',
      '/* DELETE FROM usdt_credits */',
      'sql`UPDATE clients SET revision = 2`',
    ].join('\n');
    expect(tableWritesIn(sample, settlementTables)).toEqual([
      { statement: 'INSERT INTO', table: 'payout_batches' },
      { statement: 'UPDATE', table: 'payout_group_holds' },
      { statement: 'DELETE FROM', table: 'usdt_credits' },
      { statement: 'TRUNCATE', table: 'payout_batch_members' },
    ]);
  });
});

describe("settlement's tables", () => {
  it('are written only by processors/settlement/', () => {
    const files = projectSourceFiles(projectRoot);
    expect(files.length).toBeGreaterThan(100);
    const outside = files
      .filter((path) => !relative(projectRoot, path).startsWith(ownerFolder))
      .flatMap((path) => {
        const file = relative(projectRoot, path).split(sep).join('/');
        return tableWritesIn(readFileSync(path, 'utf8'), settlementTables).map((write) => `${file}: ${write.statement} ${write.table}`);
      });
    expect(outside).toEqual([]);
  });

  it('are written by processors/settlement/ (the scan sees the real writers)', () => {
    const inside = projectSourceFiles(join(projectRoot, 'processors', 'settlement')).flatMap((path) => tableWritesIn(readFileSync(path, 'utf8'), settlementTables).map((write) => write.table));
    expect(new Set(inside)).toEqual(new Set(settlementTables));
  });
});

describe('the ChangeNow rate budget', () => {
  // Every process that calls ChangeNow writes changenow_rate_budget, but only through one
  // statement: the reservation in connectors/changenow/rate-budget.ts. Another writer could hand
  // out slots the shared schedule does not know about.
  const owner = join('connectors', 'changenow', 'rate-budget.ts');

  it('is written only by connectors/changenow/rate-budget.ts, and is written there', () => {
    const writers = projectSourceFiles(projectRoot)
      .filter((path) => tableWritesIn(readFileSync(path, 'utf8'), ['changenow_rate_budget']).length > 0)
      .map((path) => relative(projectRoot, path));
    expect(writers).toEqual([owner]);
  });
});
