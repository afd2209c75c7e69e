// The pure parts of console sessions (no I/O): the cookie's value and header text, the CSRF token
// derived from it, and the constant-time comparisons. session-store.ts keeps the sessions in
// PostgreSQL; access-routes.ts and admin-auth.ts map them onto HTTP.
//
// The cookie value is 32 random bytes (base64url): a bearer secret, so the database keeps only its
// SHA-256 (a leaked table opens no session). The CSRF token is an HMAC of the cookie value, so it
// needs no column of its own and the database cannot give it away either: whoever holds the cookie
// can compute it, but a cross-site page holds neither (the cookie is HttpOnly and SameSite=Strict;
// the token only travels in answers a cross-site page cannot read).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const sessionCookieName = 'pp_session';
export const csrfHeader = 'x-csrf-token';

const secretBytes = 32;
/** base64url of 32 bytes: 43 characters, no padding. */
const sessionValuePattern = /^[A-Za-z0-9_-]{43}$/;
const csrfLabel = 'payout-pipeline console csrf v1';

/** A fresh cookie value. */
export function newSessionSecret(): string {
  return randomBytes(secretBytes).toString('base64url');
}

/** What the database keeps of a cookie value. */
export function sessionHashOf(cookieValue: string): Buffer {
  return createHash('sha256').update(cookieValue, 'utf8').digest();
}

/** The CSRF token of the session whose cookie value this is. */
export function csrfTokenOf(cookieValue: string): string {
  return createHmac('sha256', cookieValue).update(csrfLabel, 'utf8').digest('base64url');
}

/**
 * Whether the presented CSRF header is the session's token. Both sides are digested first, so the
 * comparison is constant-time over fixed lengths: neither the token's content nor its length leaks
 * through timing.
 */
export function csrfMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The value of one cookie in a Cookie header (RFC 6265 §5.4: `name=value` pairs separated by `;`),
 * or undefined when absent. A quoted value is unquoted; a name given twice yields the first, as
 * browsers send the most specific path first. No percent-decoding: the session value never needs it.
 */
export function cookieValueOf(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0) continue;
    if (pair.slice(0, separator).trim() !== name) continue;
    const value = pair.slice(separator + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

/** A session cookie value of the right shape, or undefined (anything else is not one of ours). */
export function sessionValueOf(cookieHeader: string | undefined): string | undefined {
  const value = cookieValueOf(cookieHeader, sessionCookieName);
  return value !== undefined && sessionValuePattern.test(value) ? value : undefined;
}

export interface SessionCookieOptions {
  readonly maxAgeSeconds: number;
  readonly secure: boolean;
}

/** The Set-Cookie of a new session. */
export function sessionCookieHeader(value: string, options: SessionCookieOptions): string {
  return `${sessionCookieName}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${options.maxAgeSeconds}${options.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie that makes a browser forget the session. */
export function clearedSessionCookieHeader(secure: boolean): string {
  return `${sessionCookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? '; Secure' : ''}`;
}

/** Methods that only read: no CSRF header needed, a viewer may use them. */
export function isReadMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}
