// Console sessions in PostgreSQL (db/migrations/021_console_sessions.sql): created at log-in, read
// on every cookie-authenticated request, revoked at log-out. Keyed by the SHA-256 of the cookie
// value (console-session.ts); the value itself is never stored. Any admin instance serves any
// session, and a revocation holds on every instance from its commit on.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { AdminRole } from './admin-tokens.ts';
import { sessionHashOf } from './console-session.ts';

export interface ConsoleSession {
  readonly actor: string;
  readonly role: AdminRole;
  readonly expiresAt: Date;
}

const sessionRow = z.object({ actor: z.string(), role: z.enum(['viewer', 'operator']), expires_at: z.date() });

/** Expired rows deleted per log-in: bounded, so a log-in never waits on a large cleanup. */
const pruneBatch = 100;

const keyOf = (cookieValue: string): string => sessionHashOf(cookieValue).toString('hex');

/**
 * Records a new session and prunes up to a hundred expired ones. Pruning here keeps the table at
 * about the sessions of one TTL without a timer: rows are only ever added by log-ins, so each
 * log-in clearing a bounded batch keeps pace with them.
 */
export async function createSession(
  connection: CommonQueryMethods,
  session: { readonly cookieValue: string; readonly actor: string; readonly role: AdminRole; readonly now: Date; readonly ttlMs: number },
): Promise<ConsoleSession> {
  const expiresAt = new Date(session.now.getTime() + session.ttlMs);
  await connection.query(sql.unsafe`
    DELETE FROM console_sessions WHERE session_sha256 IN (
      SELECT session_sha256 FROM console_sessions WHERE expires_at <= ${session.now.toISOString()}::timestamptz ORDER BY expires_at LIMIT ${pruneBatch})`);
  await connection.query(sql.unsafe`
    INSERT INTO console_sessions (session_sha256, actor, role, created_at, expires_at)
    VALUES (${keyOf(session.cookieValue)}, ${session.actor}, ${session.role}, ${session.now.toISOString()}::timestamptz, ${expiresAt.toISOString()}::timestamptz)`);
  return { actor: session.actor, role: session.role, expiresAt };
}

/** The live session of a cookie value: neither expired nor revoked; else null. */
export async function findSession(connection: CommonQueryMethods, cookieValue: string, now: Date): Promise<ConsoleSession | null> {
  const row = await connection.maybeOne(sql.type(sessionRow)`
    SELECT actor, role, expires_at FROM console_sessions
    WHERE session_sha256 = ${keyOf(cookieValue)} AND revoked_at IS NULL AND expires_at > ${now.toISOString()}::timestamptz`);
  return row === null ? null : { actor: row.actor, role: row.role, expiresAt: row.expires_at };
}

/** Revokes a session (log-out); a second revocation changes nothing. */
export async function revokeSession(connection: CommonQueryMethods, cookieValue: string, now: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE console_sessions SET revoked_at = ${now.toISOString()}::timestamptz
    WHERE session_sha256 = ${keyOf(cookieValue)} AND revoked_at IS NULL`);
}
