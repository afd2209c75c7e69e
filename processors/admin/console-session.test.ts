// Proves the pure parts of console sessions: the session cookie is found in any Cookie header and
// only when well formed, the Set-Cookie headers carry the flags the contract names, the CSRF token
// belongs to one session and is compared exactly, and the log-in body is refused naming `token`.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  clearedSessionCookieHeader,
  cookieValueOf,
  csrfMatches,
  csrfTokenOf,
  isReadMethod,
  newSessionSecret,
  sessionCookieHeader,
  sessionHashOf,
  sessionValueOf,
} from './console-session.ts';
import { parseLoginBody } from './access-routes.ts';

const seed = 20261203;

describe('the Cookie header', () => {
  it.each([
    ['alone', 'pp_session=abc', 'abc'],
    ['among others, spaced', 'theme=dark;  pp_session=abc ; other=1', 'abc'],
    ['quoted', 'pp_session="abc"', 'abc'],
    ['the first of two', 'pp_session=first; pp_session=second', 'first'],
    ['with = inside the value', 'pp_session=a=b', 'a=b'],
  ])('finds the cookie %s', (_name, header, value) => {
    expect(cookieValueOf(header, 'pp_session')).toBe(value);
  });

  it.each([
    ['no header', undefined],
    ['another cookie only', 'xpp_session=abc; pp_sessionx=def'],
    ['a pair without =', 'pp_session'],
  ])('finds nothing with %s', (_name, header) => {
    expect(cookieValueOf(header, 'pp_session')).toBeUndefined();
  });

  it('takes only a 43-character base64url value as a session', () => {
    const secret = newSessionSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sessionValueOf(`a=1; pp_session=${secret}`)).toBe(secret);
    expect(sessionValueOf(`pp_session=${secret}x`)).toBeUndefined();
    expect(sessionValueOf(`pp_session=${secret.slice(1)}+`)).toBeUndefined();
    expect(sessionValueOf('pp_session=')).toBeUndefined();
  });

  it('never throws and finds a value only of the pp_session name, whatever the header', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        const value = sessionValueOf(header);
        if (value !== undefined) expect(header).toContain(`pp_session=`);
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe('the Set-Cookie headers', () => {
  it('set the session HttpOnly, SameSite=Strict, Path=/, with the TTL as Max-Age, Secure only when asked', () => {
    expect(sessionCookieHeader('v', { maxAgeSeconds: 28_800, secure: false })).toBe('pp_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800');
    expect(sessionCookieHeader('v', { maxAgeSeconds: 60, secure: true })).toBe('pp_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure');
    expect(clearedSessionCookieHeader(false)).toBe('pp_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
  });
});

describe('the CSRF token', () => {
  it("is its session's own: another session's token, a prefix or nothing does not match", () => {
    const one = newSessionSecret();
    const other = newSessionSecret();
    expect(csrfMatches(csrfTokenOf(one), csrfTokenOf(one))).toBe(true);
    expect(csrfMatches(csrfTokenOf(other), csrfTokenOf(one))).toBe(false);
    expect(csrfMatches(csrfTokenOf(one).slice(0, -1), csrfTokenOf(one))).toBe(false);
    expect(csrfMatches('', csrfTokenOf(one))).toBe(false);
    expect(csrfMatches(undefined, csrfTokenOf(one))).toBe(false);
  });

  it('is neither the cookie value nor what the database keeps of it', () => {
    const secret = newSessionSecret();
    expect(csrfTokenOf(secret)).not.toBe(secret);
    expect(csrfTokenOf(secret)).not.toBe(sessionHashOf(secret).toString('base64url'));
    expect(sessionHashOf(secret).toString('hex')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches exactly the same text, for any pair of strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (presented, expected) => {
        expect(csrfMatches(presented, expected)).toBe(presented === expected);
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe('methods', () => {
  it('reads are GET and HEAD only', () => {
    expect(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].filter(isReadMethod)).toEqual(['GET', 'HEAD']);
  });
});

describe('the log-in body', () => {
  const body = (text: string): Buffer => Buffer.from(text, 'utf8');

  it('yields the token', () => {
    expect(parseLoginBody(body('{"token":"abc"}'))).toBe('abc');
  });

  it.each([
    ['an empty body', '', 'token'],
    ['malformed JSON', '{"token":', 'token'],
    ['an array', '["abc"]', 'token'],
    ['no token', '{}', 'token'],
    ['a number', '{"token":12}', 'token'],
    ['an empty token', '{"token":""}', 'token'],
    ['a token past 512 characters', `{"token":"${'x'.repeat(513)}"}`, 'token'],
    ['an unknown field', '{"token":"abc","remember":true}', 'remember'],
  ])('refuses %s with 400 naming %s', (_name, text, field) => {
    expect(() => parseLoginBody(body(text))).toThrow(expect.objectContaining({ status: 400, body: expect.objectContaining({ code: 'invalid_body', field }) as unknown }) as Error);
  });
});
