// Bearer-token authentication of /api/*. The token is compared in constant time over fixed-length
// digests, so neither the content nor the length of ADMIN_TOKEN leaks through response timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rejection } from '../../core/http/http-errors.ts';

export type AuthFailure = 'missing_token' | 'invalid_token';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function isAdminToken(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  return match?.[1];
}

export function requireAdminBearer(expectedToken: string, onFailure: (failure: AuthFailure) => void): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const header = request.get('authorization');
    const token = bearerTokenOf(header);
    if (token === undefined) {
      onFailure('missing_token');
      response.set('WWW-Authenticate', 'Bearer realm="admin"');
      next(rejection(401, 'missing_token', 'authorization', 'Bearer <ADMIN_TOKEN>', 'An Authorization: Bearer header is required.'));
      return;
    }
    if (!isAdminToken(token, expectedToken)) {
      onFailure('invalid_token');
      response.set('WWW-Authenticate', 'Bearer realm="admin", error="invalid_token"');
      next(rejection(401, 'invalid_token', 'authorization', 'Bearer <ADMIN_TOKEN>', 'The bearer token is not valid.'));
      return;
    }
    next();
  };
}
