// What a signed transfer's next step is, given what the chain says. Pure: the worker gathers the
// facts (chain-worker.ts), these functions decide, the store applies the decision.
//
// The facts are read in an order that makes the decisions safe without locks on the chain:
// the sender's MINED nonce first, then our receipt, then whether the node knows our hash. If the
// mined nonce had passed ours because OUR transaction was mined, its receipt exists by the time we
// ask for it; so "nonce passed and no receipt" can only mean another transaction took the nonce.
import type { RpcRejection } from './evm-errors.ts';

export interface ReceiptView {
  readonly blockNumber: bigint;
  readonly blockHash: string;
  /** Receipt status 1. */
  readonly succeeded: boolean;
  /** For a token transfer: the token's Transfer event is in the logs (always true for ETH). */
  readonly delivered: boolean;
  readonly gasUsed: bigint;
  readonly effectiveGasPriceWei: bigint;
}

export interface ChainView {
  /** The sender's transaction count at the latest block, read before the receipt. */
  readonly minedNonce: bigint;
  readonly receipt: ReceiptView | null;
  /** The node has a transaction with our hash, pending or mined. Read after the receipt. */
  readonly knownToNode: boolean;
  readonly headBlock: bigint;
}

export interface WatchedTransfer {
  readonly nonce: bigint;
  /** When the node last had it, or it was last sent. */
  readonly lastSeenAt: Date;
}

export interface WatchRules {
  readonly confirmations: number;
  readonly droppedAfterMs: number;
}

export type WatchDecision =
  | { readonly kind: 'confirmed'; readonly receipt: ReceiptView }
  | { readonly kind: 'reverted'; readonly receipt: ReceiptView; readonly reason: string }
  /** Mined, fewer confirmations than required so far. */
  | { readonly kind: 'mined'; readonly receipt: ReceiptView; readonly confirmations: bigint }
  /** In the node's pool, not mined yet. */
  | { readonly kind: 'pending' }
  | { readonly kind: 'replaced'; readonly reason: string }
  /** Unknown to the node for too long and its nonce still free: send the same bytes again. */
  | { readonly kind: 'dropped'; readonly reason: string }
  /** Unknown to the node, not for long enough to call it dropped (nodes lose sight briefly). */
  | { readonly kind: 'missing'; readonly unknownForMs: number };

export function confirmationsOf(receipt: ReceiptView, headBlock: bigint): bigint {
  const confirmations = headBlock - receipt.blockNumber + 1n;
  return confirmations > 0n ? confirmations : 0n;
}

function replacedReason(nonce: bigint, minedNonce: bigint): string {
  return `nonce ${nonce} was used by another transaction (the wallet's mined nonce is ${minedNonce}) and ours was never mined`;
}

export function decideWatch(transfer: WatchedTransfer, chain: ChainView, rules: WatchRules, now: Date): WatchDecision {
  const { receipt } = chain;
  if (receipt !== null) {
    const confirmations = confirmationsOf(receipt, chain.headBlock);
    if (confirmations < BigInt(rules.confirmations)) return { kind: 'mined', receipt, confirmations };
    if (!receipt.succeeded) {
      return { kind: 'reverted', receipt, reason: `reverted on chain in block ${receipt.blockNumber} (receipt status 0), gas used ${receipt.gasUsed}` };
    }
    if (!receipt.delivered) {
      return {
        kind: 'reverted',
        receipt,
        reason: `mined in block ${receipt.blockNumber} with status 1 but the token logged no Transfer of the amount to the recipient`,
      };
    }
    return { kind: 'confirmed', receipt };
  }
  if (chain.knownToNode) return { kind: 'pending' };
  if (chain.minedNonce > transfer.nonce) return { kind: 'replaced', reason: replacedReason(transfer.nonce, chain.minedNonce) };
  const unknownForMs = now.getTime() - transfer.lastSeenAt.getTime();
  if (unknownForMs >= rules.droppedAfterMs) {
    return { kind: 'dropped', reason: `the node has not known the transaction for ${Math.round(unknownForMs / 1_000)} s and its nonce ${transfer.nonce} is still free; sending the same signed transaction again` };
  }
  return { kind: 'missing', unknownForMs };
}

/** How a broadcast of the stored raw transaction came out. */
export type BroadcastResult =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'refused'; readonly rejection: RpcRejection; readonly message: string }
  /** No answer (timeout, connection lost): it may or may not have reached the node. */
  | { readonly kind: 'unclear'; readonly message: string };

export type BroadcastDecision =
  /** The node has it: record the broadcast. */
  | { readonly kind: 'broadcast' }
  /** Ask the chain what happened to the nonce before deciding (see decideAfterNonceTooLow). */
  | { readonly kind: 'look-at-chain' }
  /** Stays signed; the same bytes are sent again on a later pass. */
  | { readonly kind: 'retry'; readonly reason: string; readonly alert: boolean }
  /**
   * The node will not take these bytes, and its nonce blocks every later transfer: sign a
   * replacement at the same nonce — the same payment at a higher fee, or a zero-value self-transfer
   * that only fills the nonce (the payment then ends REPLACED, and the requester sees a failure).
   */
  | { readonly kind: 'replace'; readonly replacement: 'fee_bump' | 'cancel'; readonly reason: string };

export function decideBroadcast(result: BroadcastResult): BroadcastDecision {
  if (result.kind === 'accepted') return { kind: 'broadcast' };
  if (result.kind === 'unclear') return { kind: 'retry', reason: `broadcast outcome unclear (${result.message}); the same signed transaction is sent again`, alert: false };
  switch (result.rejection) {
    case 'already-known':
      return { kind: 'broadcast' };
    case 'nonce-too-low':
      return { kind: 'look-at-chain' };
    case 'nonce-too-high':
      // The nonce check (nonce-check.ts) says whether the node will ever have the earlier nonces.
      return { kind: 'retry', reason: `the node is missing an earlier nonce of the wallet (${result.message}); waiting for it`, alert: false };
    case 'fee-too-low':
      return { kind: 'replace', replacement: 'fee_bump', reason: `the node refused the broadcast: ${result.message}; the same payment is signed again at the current fee` };
    case 'replacement-underpriced':
    case 'unsupported-method':
      // Another transaction holds the nonce in the node's pool (it ends REPLACED once mined), or
      // the node cannot take transactions at all: a replacement would fare no better.
      return { kind: 'retry', reason: `the node refused the broadcast: ${result.message}`, alert: true };
    default:
      // Insufficient funds (the balance fell since the check), a rule of the node the payment
      // breaks: the payment will not go through as signed, and its nonce blocks every later
      // transfer. A zero-value transfer to ourselves fills the nonce.
      return { kind: 'replace', replacement: 'cancel', reason: `the node refused the broadcast: ${result.message}; its nonce is filled by a zero-value self-transfer` };
  }
}

/** Pending in the node's pool longer than the rule allows since the current transaction was broadcast. */
export function isStuck(currentBroadcastAt: Date, now: Date, stuckAfterMs: number): boolean {
  return now.getTime() - currentBroadcastAt.getTime() >= stuckAfterMs;
}

export type NonceTooLowDecision =
  | { readonly kind: 'broadcast' }
  | { readonly kind: 'replaced'; readonly reason: string }
  | { readonly kind: 'retry'; readonly reason: string; readonly alert: boolean };

/** "nonce too low" for our own signed bytes: either they were mined already (an earlier, unclear broadcast) or the nonce went to another transaction. */
export function decideAfterNonceTooLow(nonce: bigint, chain: ChainView): NonceTooLowDecision {
  if (chain.receipt !== null || chain.knownToNode) return { kind: 'broadcast' };
  if (chain.minedNonce > nonce) return { kind: 'replaced', reason: replacedReason(nonce, chain.minedNonce) };
  // The refusal and the chain disagree (nodes behind a load balancer at different heights): decide
  // nothing terminal on it; the next pass asks again.
  return { kind: 'retry', reason: `the node said "nonce too low" but reports the wallet's mined nonce as ${chain.minedNonce} (ours is ${nonce}); asking again`, alert: false };
}
