// Named admin tokens. Each bearer token has a name, and the name is who acts: it is what the
// history, the audit trail and the published records say changed something, so nobody holding a
// token can write history in another name. The server keeps only SHA-256 digests
// (`ADMIN_TOKENS=name:sha256hex[:role],…`); `ADMIN_TOKEN`, the single plain token of `npm start` and
// the tests, is digested at start-up and named `admin`; `ADMIN_VIEWER_TOKEN` likewise, named
// `viewer`.
//
// Each token has a role: `operator` may act, `viewer` may only read (GET/HEAD). A named token
// without a role is an operator, so the tables written before roles existed keep working.
//
// A plain SHA-256 (no salt, no slow hash) is enough because a token is a long random secret, not a
// password a person chose: there is no dictionary to try against a leaked digest.
import { createHash, timingSafeEqual } from 'node:crypto';
import { PipelineError } from '../../core/errors.ts';

export const adminRoles = ['viewer', 'operator'] as const;
export type AdminRole = (typeof adminRoles)[number];

export interface AdminTokenDigest {
  readonly name: string;
  readonly sha256: Buffer;
  readonly role: AdminRole;
}

/** The name the single `ADMIN_TOKEN` acts under. */
export const singleAdminTokenName = 'admin';
/** The name `ADMIN_VIEWER_TOKEN` acts under (role viewer). */
export const viewerTokenName = 'viewer';

/**
 * What a token name may be. No colon: the `system:` namespace belongs to the pipeline's own changes
 * (the wallet cooldown sweep), and a name without a colon can never start with it.
 */
export const adminTokenNamePattern = /^[A-Za-z0-9._@+-]{1,64}$/;
const tokenEntryPattern = /^([^:]*):([0-9a-fA-F]{64})(?::([^:]*))?$/;
/** Tokens an admin API accepts at once; a bound so a typo cannot make start-up hash forever. */
export const adminTokensMax = 64;

export function sha256Of(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function isAdminRole(text: string): text is AdminRole {
  return (adminRoles as readonly string[]).includes(text);
}

/** `name:sha256hex[:role],…` into digests; throws a PipelineError naming ADMIN_TOKENS and the entry. */
export function parseAdminTokens(text: string): AdminTokenDigest[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.length > adminTokensMax) throw new PipelineError(`ADMIN_TOKENS: at most ${adminTokensMax} tokens.`);
  return entries.map((entry, index) => {
    const match = tokenEntryPattern.exec(entry);
    const name = match?.[1] ?? '';
    if (match === null || !adminTokenNamePattern.test(name)) {
      // The entry is not quoted: it may hold a plain token pasted by mistake.
      throw new PipelineError(
        `ADMIN_TOKENS: entry ${index + 1} must be name:sha256hex[:role], the name 1–64 letters, digits or ._@+- (no colon), the digest 64 hex digits.`,
      );
    }
    const role = match[3] ?? 'operator';
    if (!isAdminRole(role)) throw new PipelineError(`ADMIN_TOKENS: entry ${index + 1} has an unknown role; a role is viewer or operator (the default).`);
    return { name, sha256: Buffer.from(match[2] ?? '', 'hex'), role };
  });
}

export interface AdminTokenSources {
  /** A single plain token (ADMIN_TOKEN), named `admin`. */
  readonly plainToken?: string | undefined;
  /** ADMIN_TOKENS. */
  readonly namedTokens?: string | undefined;
  /** A single plain read-only token (ADMIN_VIEWER_TOKEN), named `viewer`. */
  readonly viewerToken?: string | undefined;
}

/** Every token the admin API accepts; refuses none at all, a repeated name and a repeated digest. */
export function adminTokenDigestsOf(sources: AdminTokenSources): AdminTokenDigest[] {
  const digests = [
    ...(sources.plainToken === undefined ? [] : [{ name: singleAdminTokenName, sha256: sha256Of(sources.plainToken), role: 'operator' as const }]),
    ...(sources.viewerToken === undefined ? [] : [{ name: viewerTokenName, sha256: sha256Of(sources.viewerToken), role: 'viewer' as const }]),
    ...(sources.namedTokens === undefined ? [] : parseAdminTokens(sources.namedTokens)),
  ];
  if (digests.length === 0) {
    throw new PipelineError('ADMIN_TOKEN (at least 24 characters) or ADMIN_TOKENS (name:sha256hex,…) is required to run the admin API.');
  }
  const names = new Set(digests.map((digest) => digest.name));
  if (names.size !== digests.length) {
    throw new PipelineError(`ADMIN_TOKENS: each token needs its own name (ADMIN_TOKEN is named "${singleAdminTokenName}", ADMIN_VIEWER_TOKEN "${viewerTokenName}").`);
  }
  // Two names for one token would make the recorded actor depend on the table's order.
  const hexDigests = new Set(digests.map((digest) => digest.sha256.toString('hex')));
  if (hexDigests.size !== digests.length) throw new PipelineError('ADMIN_TOKENS: two names share one token.');
  return digests;
}

/**
 * The token presented (its name and role), or undefined. Every digest is compared, in constant
 * time, even after a match, so the answer's timing says neither which token matched nor how many
 * there are before it.
 */
export function adminTokenOf(presented: string, digests: readonly AdminTokenDigest[]): AdminTokenDigest | undefined {
  const presentedDigest = sha256Of(presented);
  let found: AdminTokenDigest | undefined;
  for (const digest of digests) {
    if (timingSafeEqual(presentedDigest, digest.sha256) && found === undefined) found = digest;
  }
  return found;
}

/** The name of the token presented, or undefined (adminTokenOf). */
export function adminTokenNameOf(presented: string, digests: readonly AdminTokenDigest[]): string | undefined {
  return adminTokenOf(presented, digests)?.name;
}
