// Is the node's view of the host wallet's nonce where the ledger expects it? Pure: the worker
// reads the facts (chain-worker.ts), this decides, the store records it (nonce-status-store.ts).
//
// The ledger knows which nonces it used: every nonce below the lowest one of its unfinished signed
// transfers was mined (its transfer confirmed, reverted or was replaced), or belonged to someone
// else's transaction the node had when the nonce was allocated. So:
// - the node's MINED nonce below that lowest open nonce means the node lacks transactions the
//   ledger saw mined — a chain restarted from nothing, another chain behind the same URL, a deep
//   reorganisation, or someone else's pending transaction that was dropped. Our signed transfers
//   can then never be mined ("missing an earlier nonce"): a wait that cannot clear by itself.
//   Nothing is signed or sent until it is resolved; an operator is alerted.
// - the node's PENDING nonce above the ledger's next nonce means transactions the ledger never
//   signed use the key. New transfers take the node's nonce (chain-worker.ts), so nothing wedges,
//   but a second user of the host key is alerted.
// - a node whose genesis block is not the one recorded for its chain id is another chain.

export type NonceStatus = 'in_step' | 'node_behind' | 'node_ahead' | 'chain_changed';

export interface NonceFacts {
  /** False when the ledger never signed anything for this sender: the node's nonce is the start. */
  readonly ledgerKnowsSender: boolean;
  readonly ledgerNextNonce: bigint;
  /** Lowest nonce of the ledger's signed or broadcast transfers; null when there is none. */
  readonly ledgerOpenNonce: bigint | null;
  readonly nodeMinedNonce: bigint;
  readonly nodePendingNonce: bigint;
  readonly recordedGenesisHash: string;
  readonly nodeGenesisHash: string;
}

export interface NonceFinding {
  readonly status: NonceStatus;
  readonly gap: bigint;
  /** Null when in step. */
  readonly reason: string | null;
  /** Signing and broadcasting stop: every transaction would wait for nonces that never come. */
  readonly blocksSending: boolean;
}

function distance(left: bigint, right: bigint): bigint {
  return left > right ? left - right : right - left;
}

export function decideNonceStatus(facts: NonceFacts): NonceFinding {
  if (facts.recordedGenesisHash.toLowerCase() !== facts.nodeGenesisHash.toLowerCase()) {
    return {
      status: 'chain_changed',
      gap: distance(facts.ledgerNextNonce, facts.nodeMinedNonce),
      reason:
        `the node's genesis block is ${facts.nodeGenesisHash}, but this database's ledger belongs to the chain with genesis ${facts.recordedGenesisHash} ` +
        `(ledger next nonce ${facts.ledgerNextNonce}, node nonce ${facts.nodeMinedNonce}): nothing is signed or sent on another chain. ` +
        `A restarted local stack: \`npm run cli -- stack reset --yes\`, then start again`,
      blocksSending: true,
    };
  }
  if (!facts.ledgerKnowsSender) return { status: 'in_step', gap: 0n, reason: null, blocksSending: false };
  const expectedMined = facts.ledgerOpenNonce ?? facts.ledgerNextNonce;
  if (facts.nodeMinedNonce < expectedMined) {
    const gap = expectedMined - facts.nodeMinedNonce;
    return {
      status: 'node_behind',
      gap,
      reason:
        `the node's mined nonce of the host wallet is ${facts.nodeMinedNonce} but the ledger used every nonce below ${expectedMined} ` +
        `(next nonce ${facts.ledgerNextNonce}): the node lacks ${gap} transaction(s) the ledger saw, so transfers signed after them could never be mined; ` +
        `nothing is signed or sent until the node catches up or an operator resolves it`,
      blocksSending: true,
    };
  }
  if (facts.nodePendingNonce > facts.ledgerNextNonce) {
    const gap = facts.nodePendingNonce - facts.ledgerNextNonce;
    return {
      status: 'node_ahead',
      gap,
      reason:
        `the node's pending nonce of the host wallet is ${facts.nodePendingNonce} but the ledger's next nonce is ${facts.ledgerNextNonce}: ` +
        `${gap} transaction(s) the ledger never signed use the host key; new transfers take the node's nonce`,
      blocksSending: false,
    };
  }
  return { status: 'in_step', gap: 0n, reason: null, blocksSending: false };
}
