// The console's access routes (docs/http-api.md "Console sessions, roles and audit"):
//   POST   /api/session   {"token": "<admin token>"} → the session body and the pp_session cookie (no prior auth)
//   GET    /api/session   the session body again (a reloaded page gets its csrf_token back)
//   DELETE /api/session   revokes the session and clears the cookie (CSRF header required)
//   GET    /api/audit?limit=&cursor=&actor=   the audit of every non-GET /api request, newest first
// The log-in is mounted before the authentication middleware (it is how a session begins), behind
// a stricter per-source limit than the rest of /api; the others after it.
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { DatabasePool } from 'slonik';
import { parse as parseLosslessJson } from 'lossless-json';
import { rejection, requireJsonContentType } from '../../core/http/http-errors.ts';
import { createRequestRateLimit } from '../../core/http/rate-limit.ts';
import { authenticatedOf, setAuthenticated, type AuthFailure } from './admin-auth.ts';
import { adminTokenOf, type AdminRole, type AdminTokenDigest } from './admin-tokens.ts';
import { decodeCursor, isoInstantPattern, pageOf, parsePageLimit } from './api-pagination.ts';
import { auditListQuery, loginRequest, parseQuery, type AuditListItem, type SessionBody } from './api-schemas.ts';
import { listAuditEntries, type AuditRow } from './audit-store.ts';
import { clearedSessionCookieHeader, csrfTokenOf, newSessionSecret, sessionCookieHeader } from './console-session.ts';
import { createSession, revokeSession } from './session-store.ts';

export interface AccessRoutesOptions {
  readonly pool: DatabasePool;
  readonly digests: readonly AdminTokenDigest[];
  readonly sessionTtlMs: number;
  readonly secureCookie: boolean;
  readonly loginRateLimitPerMinute: number;
  readonly bodyLimitBytes: number;
  readonly now: () => Date;
  readonly onFailure: (failure: AuthFailure) => void;
}

function sessionBodyOf(actor: string, role: AdminRole, cookieValue: string, expiresAt: Date): SessionBody {
  return { actor, role, csrf_token: csrfTokenOf(cookieValue), expires_at: expiresAt.toISOString() };
}

/** The token of a log-in body; anything else is 400 naming `token` (or the unknown field). */
export function parseLoginBody(body: unknown): string {
  const invalid = (field: string, rule: string): Error => rejection(400, 'invalid_body', field, rule, `The body must be {"token": "<admin token>"}: ${field} is not valid (${rule}).`);
  let parsed: unknown;
  try {
    parsed = parseLosslessJson(Buffer.isBuffer(body) ? body.toString('utf8') : '');
  } catch {
    throw invalid('token', 'a JSON object with a token string');
  }
  const result = loginRequest.safeParse(parsed);
  if (result.success) return result.data.token;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') throw invalid(issue.keys[0] ?? 'body', 'not a field of the log-in body');
  throw invalid('token', 'a string of 1 to 512 characters');
}

function auditItemOf(row: AuditRow): AuditListItem {
  return { id: row.id, at: row.at.toISOString(), actor: row.actor, role: row.role, method: row.method, path: row.path, status: row.status, correlation_id: row.correlation_id };
}

const noSession = (): Error => rejection(401, 'no_session', 'cookie', 'the pp_session cookie of POST /api/session', 'This route answers for a console session; log in with POST /api/session.');

/** POST /api/session, mounted before the authentication middleware. */
export function mountLoginRoute(app: Express, options: AccessRoutesOptions): void {
  const loginLimit: RequestHandler = createRequestRateLimit({ requestsPerMinute: options.loginRateLimitPerMinute });
  app.post(
    '/api/session',
    loginLimit,
    requireJsonContentType('Send the body as application/json.'),
    express.raw({ type: () => true, limit: options.bodyLimitBytes }),
    async (request: Request, response: Response) => {
      const token = parseLoginBody(request.body);
      const digest = adminTokenOf(token, options.digests);
      if (digest === undefined) {
        options.onFailure('login_failed');
        throw rejection(401, 'invalid_token', 'token', 'an admin token', 'The token is not valid.');
      }
      const cookieValue = newSessionSecret();
      const session = await createSession(options.pool, { cookieValue, actor: digest.name, role: digest.role, now: options.now(), ttlMs: options.sessionTtlMs });
      // The audit row of this request names who logged in.
      setAuthenticated(response, { actor: digest.name, role: digest.role, via: 'cookie', cookieValue, expiresAt: session.expiresAt });
      response
        .append('Set-Cookie', sessionCookieHeader(cookieValue, { maxAgeSeconds: Math.floor(options.sessionTtlMs / 1_000), secure: options.secureCookie }))
        .set('Cache-Control', 'no-store')
        .json(sessionBodyOf(digest.name, digest.role, cookieValue, session.expiresAt));
    },
  );
}

/** GET and DELETE /api/session and GET /api/audit, mounted after the authentication middleware. */
export function mountSessionRoutes(app: Express, options: AccessRoutesOptions): void {
  app.get('/api/session', (_request: Request, response: Response) => {
    const authenticated = authenticatedOf(response);
    if (authenticated?.via !== 'cookie' || authenticated.cookieValue === undefined || authenticated.expiresAt === undefined) throw noSession();
    response.set('Cache-Control', 'no-store').json(sessionBodyOf(authenticated.actor, authenticated.role, authenticated.cookieValue, authenticated.expiresAt));
  });

  app.delete('/api/session', async (_request: Request, response: Response) => {
    const authenticated = authenticatedOf(response);
    if (authenticated?.via !== 'cookie' || authenticated.cookieValue === undefined) throw noSession();
    await revokeSession(options.pool, authenticated.cookieValue, options.now());
    response.append('Set-Cookie', clearedSessionCookieHeader(options.secureCookie)).status(204).end();
  });

  app.get('/api/audit', async (request: Request, response: Response) => {
    const query = parseQuery(auditListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const rows = await listAuditEntries(options.pool, {
      ...(query.actor === undefined ? {} : { actor: query.actor }),
      after: query.cursor === undefined ? null : decodeCursor(query.cursor, [isoInstantPattern, /^[0-9]{1,19}$/]),
      limit,
    });
    response.json(pageOf(rows, limit, (row) => [row.sort_at, row.id], auditItemOf));
  });
}
