// Authentication and authorisation of /api/*, in one middleware. A request authenticates EITHER
// with `Authorization: Bearer <token>` OR with the console's `pp_session` cookie (POST
// /api/session); a bearer token, when present, is the only thing looked at.
//
// - Tokens are compared in constant time over fixed-length digests (admin-tokens.ts), so neither
//   the content nor the length of a token leaks through response timing; the CSRF header likewise
//   (console-session.ts).
// - A cookie is sent by the browser on its own, so a cookie-authenticated request that changes
//   something (any method but GET/HEAD) must also carry X-CSRF-Token, which only a page that read
//   GET/POST /api/session knows. A bearer request needs none: a browser never adds that header by
//   itself.
// - A viewer may only read (GET/HEAD), plus log out (DELETE /api/session).
// The matching token's name is who acts for the rest of the request.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rejection } from '../../core/http/http-errors.ts';
import { adminTokenOf, type AdminRole, type AdminTokenDigest } from './admin-tokens.ts';
import { clearedSessionCookieHeader, csrfHeader, csrfMatches, csrfTokenOf, isReadMethod, sessionValueOf } from './console-session.ts';
import type { ConsoleSession } from './session-store.ts';

export type AuthFailure = 'missing_token' | 'invalid_token' | 'invalid_session' | 'csrf_token' | 'forbidden_role' | 'login_failed';

export interface Authenticated {
  readonly actor: string;
  readonly role: AdminRole;
  readonly via: 'bearer' | 'cookie';
  /** The session's cookie value and end, when via is cookie. */
  readonly cookieValue?: string;
  readonly expiresAt?: Date;
}

const authenticatedLocal = 'adminAuthenticated';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  return match?.[1];
}

/** Who this request authenticated as, or undefined (not yet, or refused). */
export function authenticatedOf(response: Response): Authenticated | undefined {
  const value: unknown = response.locals[authenticatedLocal];
  return typeof value === 'object' && value !== null ? (value as Authenticated) : undefined;
}

/** Records who the request acts as (the middleware below; POST /api/session for the audit). */
export function setAuthenticated(response: Response, authenticated: Authenticated): void {
  response.locals[authenticatedLocal] = authenticated;
}

/** The name of the token that authenticated this request (set by the middleware). */
export function tokenNameOf(response: Response): string {
  const authenticated = authenticatedOf(response);
  // A route mounted outside the middleware would have no actor: a programmer error.
  if (authenticated === undefined) throw new Error('tokenNameOf: the request was not authenticated');
  return authenticated.actor;
}

export interface AdminAuthenticationOptions {
  readonly digests: readonly AdminTokenDigest[];
  readonly findSession: (cookieValue: string) => Promise<ConsoleSession | null>;
  readonly onFailure: (failure: AuthFailure) => void;
  readonly secureCookie: boolean;
}

/** The route a viewer may use beside reads: its own log-out. */
const isOwnSessionRoute = (request: Request): boolean => `${request.baseUrl}${request.path}` === '/api/session';

export function createAdminAuthentication(options: AdminAuthenticationOptions): RequestHandler {
  const { digests, onFailure } = options;

  const authorise = (request: Request, next: NextFunction, authenticated: Authenticated): void => {
    if (authenticated.via === 'cookie' && !isReadMethod(request.method) && !csrfMatches(request.get(csrfHeader), csrfTokenOf(authenticated.cookieValue ?? ''))) {
      onFailure('csrf_token');
      next(rejection(403, 'csrf_token', csrfHeader, 'the csrf_token of GET /api/session', 'A request authenticated by the session cookie must send X-CSRF-Token with the csrf_token of its session.'));
      return;
    }
    if (authenticated.role === 'viewer' && !isReadMethod(request.method) && !isOwnSessionRoute(request)) {
      onFailure('forbidden_role');
      next(rejection(403, 'forbidden', 'role', 'operator', `${authenticated.actor} is a viewer: it may read (GET) but not act.`));
      return;
    }
    next();
  };

  return async (request: Request, response: Response, next: NextFunction) => {
    const token = bearerTokenOf(request.get('authorization'));
    if (token !== undefined) {
      const digest = adminTokenOf(token, digests);
      if (digest === undefined) {
        onFailure('invalid_token');
        response.set('WWW-Authenticate', 'Bearer realm="admin", error="invalid_token"');
        next(rejection(401, 'invalid_token', 'authorization', 'Bearer <admin token>', 'The bearer token is not valid.'));
        return;
      }
      const authenticated: Authenticated = { actor: digest.name, role: digest.role, via: 'bearer' };
      setAuthenticated(response, authenticated);
      authorise(request, next, authenticated);
      return;
    }
    const cookieHeader = request.get('cookie');
    const cookieValue = sessionValueOf(cookieHeader);
    if (cookieValue === undefined && !/(^|;)\s*pp_session=/.test(cookieHeader ?? '')) {
      onFailure('missing_token');
      response.set('WWW-Authenticate', 'Bearer realm="admin"');
      next(rejection(401, 'missing_token', 'authorization', 'Bearer <admin token>, or the pp_session cookie of POST /api/session', 'An Authorization: Bearer header or a console session is required.'));
      return;
    }
    const session = cookieValue === undefined ? null : await options.findSession(cookieValue);
    // A session outlives no change of its token: gone from the configuration, or another role now,
    // and the session is refused (the operator logs in again under what the token is today).
    const stillConfigured = session !== null && digests.some((digest) => digest.name === session.actor && digest.role === session.role);
    if (session === null || !stillConfigured || cookieValue === undefined) {
      onFailure('invalid_session');
      response.append('Set-Cookie', clearedSessionCookieHeader(options.secureCookie));
      next(rejection(401, 'invalid_session', 'cookie', 'a live pp_session of POST /api/session', 'The console session has expired, was logged out or is not known; log in again.'));
      return;
    }
    const authenticated: Authenticated = { actor: session.actor, role: session.role, via: 'cookie', cookieValue, expiresAt: session.expiresAt };
    setAuthenticated(response, authenticated);
    authorise(request, next, authenticated);
  };
}
