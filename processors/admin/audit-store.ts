// The console audit (console_audit, db/migrations/021_console_sessions.sql): one row per /api
// request other than GET/HEAD, allowed or refused, with its actor and answer status. Written by
// admin-app.ts when the answer is sent; read newest first by GET /api/audit.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { AdminRole } from './admin-tokens.ts';
import type { SortKey } from './api-pagination.ts';
import { olderThan, sortAt } from './list-store.ts';

export interface AuditEntry {
  readonly at: Date;
  /** Null when the request never authenticated (a wrong token, a failed log-in). */
  readonly actor: string | null;
  readonly role: AdminRole | null;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly correlationId: string;
}

const auditPathMax = 2_048;

export async function insertAuditEntry(connection: CommonQueryMethods, entry: AuditEntry): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO console_audit (at, actor, role, method, path, status, correlation_id)
    VALUES (${entry.at.toISOString()}::timestamptz, ${entry.actor}, ${entry.role}, ${entry.method.slice(0, 16)}, ${entry.path.slice(0, auditPathMax)},
            ${entry.status}, ${entry.correlationId})`);
}

const auditRow = z.object({
  sort_at: z.string(),
  id: z.string(),
  at: z.date(),
  actor: z.string().nullable(),
  role: z.enum(['viewer', 'operator']).nullable(),
  method: z.string(),
  path: z.string(),
  status: z.number().int(),
  correlation_id: z.string(),
});
export type AuditRow = z.infer<typeof auditRow>;

/**
 * Newest first by when the request arrived (`at`), ties by id; `after` is the previous page's last
 * (at, id). Not by id alone: a row is inserted once its answer is over, so a quick request's row
 * can be written before that of a slower one that came first.
 */
export async function listAuditEntries(
  connection: CommonQueryMethods,
  filter: { readonly actor?: string; readonly after: SortKey | null; readonly limit: number },
): Promise<readonly AuditRow[]> {
  const conditions = [sql.fragment`TRUE`];
  if (filter.actor !== undefined) conditions.push(sql.fragment`actor = ${filter.actor}`);
  if (filter.after !== null) conditions.push(olderThan('at', 'id', filter.after));
  return connection.any(sql.type(auditRow)`
    SELECT ${sortAt('at')} AS sort_at, id::text AS id, at, actor, role, method, path, status, correlation_id
    FROM console_audit
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY at DESC, id DESC
    LIMIT ${filter.limit + 1}`);
}
