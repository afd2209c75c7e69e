// Is the local stack coherent after a restart? Kafka and PostgreSQL keep their data in
// STACK_DATA_DIR, but the local EVM (Hardhat's node) and the ChangeNow simulator live in memory:
// every start is a fresh chain with the same chain id and addresses. A ledger that signed nonce 950
// for the host wallet then meets a chain where it is at 0, and every exchange it follows is gone.
// The chain's genesis block (its hash includes the start time) tells the two chains apart: the
// database records it (chain_identities, shared with the chain connector) and `npm start` compares
// on every start, refusing to run the processors on a database that belongs to another chain.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createEvmRpc } from '../../connectors/chain/evm-rpc.ts';

export type ChainCoherence =
  /** The first start on this database: the chain is recorded as its own. */
  | { readonly kind: 'recorded'; readonly genesisBlockHash: string }
  | { readonly kind: 'same'; readonly genesisBlockHash: string }
  /** Another chain, but the database has no chain or exchange history: the new chain is adopted. */
  | { readonly kind: 'adopted'; readonly genesisBlockHash: string; readonly previousGenesisBlockHash: string }
  | { readonly kind: 'incoherent'; readonly message: string };

/** What the stack prints: how to start clean. */
export const stackResetAdvice = 'Stop the pipeline (Ctrl-C), run `npm run cli -- stack reset --yes` (deletes STACK_DATA_DIR: Kafka, PostgreSQL, the chain\'s files), then `npm start` again.';

export async function checkChainCoherence(pool: DatabasePool, rpcUrl: string, now: Date): Promise<ChainCoherence> {
  const rpc = createEvmRpc({ url: rpcUrl, timeoutMs: 5_000 });
  const chainId = await rpc.chainId();
  const genesisBlockHash = await rpc.genesisBlockHash();
  return pool.transaction(async (transaction) => {
    // Serialises two starts on one database; the row is written in the same transaction.
    await transaction.query(sql.unsafe`LOCK TABLE chain_identities IN SHARE ROW EXCLUSIVE MODE`);
    const recorded = await transaction.maybeOneFirst(sql.type(z.object({ genesis_block_hash: z.string() }))`
      SELECT genesis_block_hash FROM chain_identities WHERE chain_id = ${chainId.toString()}::numeric`);
    if (recorded === null) {
      await transaction.query(sql.unsafe`
        INSERT INTO chain_identities (chain_id, genesis_block_hash, recorded_at) VALUES (${chainId.toString()}::numeric, ${genesisBlockHash}, ${sql.timestamp(now)})`);
      return { kind: 'recorded', genesisBlockHash };
    }
    if (recorded.toLowerCase() === genesisBlockHash.toLowerCase()) return { kind: 'same', genesisBlockHash };
    const history = await transaction.one(sql.type(z.object({ transfers: z.number(), open_transfers: z.number(), next_nonce: z.bigint().nullable(), swaps: z.number() }))`
      SELECT (SELECT count(*)::int4 FROM chain_transfers) AS transfers,
             (SELECT count(*)::int4 FROM chain_transfers WHERE state IN ('requested', 'signed', 'broadcast')) AS open_transfers,
             (SELECT max(next_nonce) FROM chain_senders) AS next_nonce,
             (SELECT count(*)::int4 FROM swap_commands) AS swaps`);
    if (history.transfers === 0 && history.swaps === 0 && history.next_nonce === null) {
      await transaction.query(sql.unsafe`
        UPDATE chain_identities SET genesis_block_hash = ${genesisBlockHash}, recorded_at = ${sql.timestamp(now)} WHERE chain_id = ${chainId.toString()}::numeric`);
      return { kind: 'adopted', genesisBlockHash, previousGenesisBlockHash: recorded };
    }
    return {
      kind: 'incoherent',
      message:
        `The local chain started from nothing (chain id ${chainId}, genesis block ${genesisBlockHash}), but the database kept from the last run belongs to ` +
        `the chain with genesis block ${recorded}: ${history.transfers} on-chain transfer(s) (${history.open_transfers} unfinished), the host wallet's next nonce ` +
        `${history.next_nonce ?? 0}, ${history.swaps} exchange(s). The local EVM and the ChangeNow simulator keep no state across restarts while Kafka and ` +
        `PostgreSQL do, so the chain connector would wait forever for nonces the new chain never had. ${stackResetAdvice}`,
    };
  });
}
