// The chain_identities and chain_nonce_status tables (db/migrations/010_chain_replacements.sql):
// which chain the ledger belongs to, and the last nonce comparison per sender, which the
// reconciliation reads through the chain_nonce_gaps view.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { NonceFacts, NonceFinding, NonceStatus } from './nonce-check.ts';

/** The genesis block recorded for a chain id, recording `genesisBlockHash` if none was. */
export async function recordedGenesisOf(connection: CommonQueryMethods, chainId: bigint, genesisBlockHash: string, now: Date): Promise<string> {
  await connection.query(sql.unsafe`
    INSERT INTO chain_identities (chain_id, genesis_block_hash, recorded_at)
    VALUES (${chainId.toString()}::numeric, ${genesisBlockHash}, ${sql.timestamp(now)})
    ON CONFLICT (chain_id) DO NOTHING`);
  return connection.oneFirst(sql.type(z.object({ genesis_block_hash: z.string() }))`
    SELECT genesis_block_hash FROM chain_identities WHERE chain_id = ${chainId.toString()}::numeric`);
}

export interface LedgerNonces {
  readonly knowsSender: boolean;
  readonly nextNonce: bigint;
  readonly openNonce: bigint | null;
}

export async function ledgerNoncesOf(connection: CommonQueryMethods, senderAddress: string): Promise<LedgerNonces> {
  const row = await connection.one(sql.type(z.object({ next_nonce: z.bigint().nullable(), open_nonce: z.bigint().nullable() }))`
    SELECT (SELECT next_nonce FROM chain_senders WHERE sender_address = ${senderAddress}) AS next_nonce,
           (SELECT min(nonce) FROM chain_transfers WHERE sender_address = ${senderAddress} AND state IN ('signed', 'broadcast')) AS open_nonce`);
  return { knowsSender: row.next_nonce !== null, nextNonce: row.next_nonce ?? 0n, openNonce: row.open_nonce };
}

/**
 * Records the comparison; returns the status it replaces (null: the first one). Written only when
 * the status, the gap or a nonce changed, so a healthy sender costs a read per pass, not a write.
 */
export async function recordNonceStatus(connection: CommonQueryMethods, senderAddress: string, facts: NonceFacts, finding: NonceFinding, now: Date): Promise<NonceStatus | null> {
  const previous = await connection.maybeOneFirst(sql.type(z.object({ status: z.enum(['in_step', 'node_behind', 'node_ahead', 'chain_changed']) }))`
    SELECT status FROM chain_nonce_status WHERE sender_address = ${senderAddress}`);
  await connection.query(sql.unsafe`
    INSERT INTO chain_nonce_status
      (sender_address, status, ledger_next_nonce, ledger_open_nonce, node_mined_nonce, node_pending_nonce, gap, reason, since, checked_at)
    VALUES (${senderAddress}, ${finding.status}, ${facts.ledgerNextNonce.toString()}::int8,
      ${facts.ledgerOpenNonce === null ? null : facts.ledgerOpenNonce.toString()}::int8, ${facts.nodeMinedNonce.toString()}::int8,
      ${facts.nodePendingNonce.toString()}::int8, ${finding.gap.toString()}::int8, ${finding.reason}, ${sql.timestamp(now)}, ${sql.timestamp(now)})
    ON CONFLICT (sender_address) DO UPDATE SET
      status = excluded.status, ledger_next_nonce = excluded.ledger_next_nonce, ledger_open_nonce = excluded.ledger_open_nonce,
      node_mined_nonce = excluded.node_mined_nonce, node_pending_nonce = excluded.node_pending_nonce, gap = excluded.gap,
      reason = excluded.reason, checked_at = excluded.checked_at,
      since = CASE WHEN chain_nonce_status.status = excluded.status THEN chain_nonce_status.since ELSE excluded.since END
    WHERE (chain_nonce_status.status, chain_nonce_status.ledger_next_nonce, chain_nonce_status.ledger_open_nonce, chain_nonce_status.node_mined_nonce,
           chain_nonce_status.node_pending_nonce, chain_nonce_status.gap)
      IS DISTINCT FROM (excluded.status, excluded.ledger_next_nonce, excluded.ledger_open_nonce, excluded.node_mined_nonce,
           excluded.node_pending_nonce, excluded.gap)`);
  return previous;
}
