// Bearer-token authentication of /api/*. Tokens are compared in constant time over fixed-length
// digests (admin-tokens.ts), so neither the content nor the length of a token leaks through
// response timing. The matching token's name is who acts for the rest of the request.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rejection } from '../../core/http/http-errors.ts';
import { adminTokenNameOf, type AdminTokenDigest } from './admin-tokens.ts';

export type AuthFailure = 'missing_token' | 'invalid_token';

const tokenNameLocal = 'adminTokenName';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  return match?.[1];
}

/** The name of the token that authenticated this request (set by requireAdminBearer). */
export function tokenNameOf(response: Response): string {
  const name: unknown = response.locals[tokenNameLocal];
  // A route mounted outside requireAdminBearer would have no actor: a programmer error.
  if (typeof name !== 'string') throw new Error('tokenNameOf: the request was not authenticated');
  return name;
}

export function requireAdminBearer(digests: readonly AdminTokenDigest[], onFailure: (failure: AuthFailure) => void): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const header = request.get('authorization');
    const token = bearerTokenOf(header);
    if (token === undefined) {
      onFailure('missing_token');
      response.set('WWW-Authenticate', 'Bearer realm="admin"');
      next(rejection(401, 'missing_token', 'authorization', 'Bearer <admin token>', 'An Authorization: Bearer header is required.'));
      return;
    }
    const name = adminTokenNameOf(token, digests);
    if (name === undefined) {
      onFailure('invalid_token');
      response.set('WWW-Authenticate', 'Bearer realm="admin", error="invalid_token"');
      next(rejection(401, 'invalid_token', 'authorization', 'Bearer <admin token>', 'The bearer token is not valid.'));
      return;
    }
    response.locals[tokenNameLocal] = name;
    next();
  };
}
