// Proves that named admin tokens authenticate as their own name and nothing else, that the token
// table refuses malformed, unnamed, duplicated and shared entries, and that no request can be
// recorded under the system: namespace, whatever its token names and actor headers say
// (fast-check over arbitrary tables and headers).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { adminTokenDigestsOf, adminTokenNameOf, adminTokenOf, parseAdminTokens, sha256Of, singleAdminTokenName, viewerTokenName } from './admin-tokens.ts';
import { parseRequestActor, systemActorPrefix } from '../../core/http/request-validation.ts';

const hexOf = (token: string): string => sha256Of(token).toString('hex');
const seed = 20261202;

describe('the token table', () => {
  it('names ADMIN_TOKEN "admin" and each ADMIN_TOKENS entry by its name', () => {
    const digests = adminTokenDigestsOf({ plainToken: 'plain-token-0123456789abcdef', namedTokens: `ops:${hexOf('ops-secret')}, treasury:${hexOf('treasury-secret')}` });
    expect(digests.map((digest) => digest.name)).toEqual([singleAdminTokenName, 'ops', 'treasury']);
    expect(adminTokenNameOf('plain-token-0123456789abcdef', digests)).toBe('admin');
    expect(adminTokenNameOf('ops-secret', digests)).toBe('ops');
    expect(adminTokenNameOf('treasury-secret', digests)).toBe('treasury');
    expect(adminTokenNameOf('ops-secret ', digests)).toBeUndefined();
    expect(adminTokenNameOf(hexOf('ops-secret'), digests)).toBeUndefined();
  });

  it('gives each token its role: operator by default, viewer when the entry says so, ADMIN_VIEWER_TOKEN a viewer', () => {
    const digests = adminTokenDigestsOf({
      plainToken: 'plain-token-0123456789abcdef',
      viewerToken: 'viewer-token-0123456789abcdef',
      namedTokens: `ops:${hexOf('ops-secret')}, auditor:${hexOf('auditor-secret')}:viewer, lead:${hexOf('lead-secret')}:operator`,
    });
    expect(digests.map(({ name, role }) => `${name}:${role}`)).toEqual(['admin:operator', `${viewerTokenName}:viewer`, 'ops:operator', 'auditor:viewer', 'lead:operator']);
    expect(adminTokenOf('auditor-secret', digests)).toMatchObject({ name: 'auditor', role: 'viewer' });
    expect(adminTokenOf('viewer-token-0123456789abcdef', digests)).toMatchObject({ name: 'viewer', role: 'viewer' });
    expect(adminTokenOf('lead-secret', digests)).toMatchObject({ name: 'lead', role: 'operator' });
  });

  it.each([
    ['no token at all', {}, /ADMIN_TOKEN .* or ADMIN_TOKENS/],
    ['an unknown role', { namedTokens: `ops:${hexOf('a')}:admin` }, /entry 1 has an unknown role/],
    ['an empty role', { namedTokens: `ops:${hexOf('a')}:` }, /entry 1 has an unknown role/],
    ['a role in capitals', { namedTokens: `ops:${hexOf('a')}:Viewer` }, /entry 1 has an unknown role/],
    ['a named "viewer" beside ADMIN_VIEWER_TOKEN', { viewerToken: 'viewer-token-0123456789abcdef', namedTokens: `viewer:${hexOf('b')}:viewer` }, /its own name/],
    ['a plain token instead of a digest', { namedTokens: 'ops:my-secret-token' }, /entry 1 must be name:sha256hex/],
    ['an entry without a name', { namedTokens: `:${hexOf('x')}` }, /entry 1/],
    ['a system: name', { namedTokens: `system:wallet-cooldown:${hexOf('x')}` }, /entry 1/],
    ['a repeated name', { namedTokens: `ops:${hexOf('a')},ops:${hexOf('b')}` }, /its own name/],
    ['a second "admin" beside ADMIN_TOKEN', { plainToken: 'plain-token-0123456789abcdef', namedTokens: `admin:${hexOf('b')}` }, /its own name/],
    ['one token under two names', { namedTokens: `ops:${hexOf('a')},sec:${hexOf('a')}` }, /two names share one token/],
  ])('refuses %s', (_name, sources, message) => {
    expect(() => adminTokenDigestsOf(sources)).toThrow(message);
  });

  it('never yields a name in the system: namespace, whatever the table says', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 70 }), fc.stringMatching(/^[0-9a-f]{64}$/)), { minLength: 1, maxLength: 5 }), (entries) => {
        let names: string[];
        try {
          names = parseAdminTokens(entries.map(([name, hex]) => `${name}:${hex}`).join(',')).map((digest) => digest.name);
        } catch {
          return;
        }
        for (const name of names) expect(name.toLowerCase().startsWith(systemActorPrefix)).toBe(false);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('finds each token of a random table under its own name, and nothing else', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 6 }), fc.string({ maxLength: 40 }), (tokens, other) => {
        const table = tokens.map((token, index) => `name${index}:${hexOf(token)}`).join(',');
        const digests = adminTokenDigestsOf({ namedTokens: table });
        tokens.forEach((token, index) => expect(adminTokenNameOf(token, digests)).toBe(`name${index}`));
        if (!tokens.includes(other)) expect(adminTokenNameOf(other, digests)).toBeUndefined();
      }),
      { seed, numRuns: 200 },
    );
  });
});

describe('the actor of a request', () => {
  it('is the token name, with X-Actor-Note (or the older X-Actor) as the note', () => {
    expect(parseRequestActor('ops', { actor: undefined, note: undefined })).toEqual({ actor: 'ops', note: null });
    expect(parseRequestActor('ops', { actor: undefined, note: 'ticket #42, for alice' })).toEqual({ actor: 'ops', note: 'ticket #42, for alice' });
    expect(parseRequestActor('ops', { actor: 'alice@example.com', note: undefined })).toEqual({ actor: 'ops', note: 'alice@example.com' });
  });

  it.each([
    ['X-Actor in the system namespace', { actor: 'system:wallet-cooldown', note: undefined }, 'x-actor'],
    ['X-Actor in the system namespace, upper case', { actor: 'SYSTEM:wallet-cooldown', note: undefined }, 'x-actor'],
    ['a note in the system namespace', { actor: undefined, note: 'system:wallet-cooldown' }, 'x-actor-note'],
    ['a note with a control character', { actor: undefined, note: 'line\u0000break' }, 'x-actor-note'],
    ['a note past 200 characters', { actor: undefined, note: 'n'.repeat(201) }, 'x-actor-note'],
    ['a note that is not ASCII', { actor: undefined, note: 'caf\u00e9' }, 'x-actor-note'],
    ['both headers', { actor: 'alice', note: 'bob' }, 'x-actor'],
  ])('refuses %s', (_name, headers, field) => {
    expect(() => parseRequestActor('ops', headers)).toThrow(expect.objectContaining({ field }) as Error);
  });

  it('is never in the system: namespace, whatever the headers say', () => {
    const header = fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('system:wallet-cooldown', 'System:x', ' system:x')), { nil: undefined });
    fc.assert(
      fc.property(header, header, (actor, note) => {
        try {
          const result = parseRequestActor('ops', { actor, note });
          expect(result.actor).toBe('ops');
          expect(result.note?.toLowerCase().startsWith(systemActorPrefix) ?? false).toBe(false);
        } catch (error) {
          expect(error).toMatchObject({ field: expect.stringMatching(/^x-actor(-note)?$/) as unknown });
        }
      }),
      { seed, numRuns: 500 },
    );
  });
});
