// Proves the decisions about a signed transfer, given what the chain says: confirmed only after
// CHAIN_CONFIRMATIONS and only when the token really moved; reverted on status 0; replaced only
// when the nonce was taken and our hash was never mined; dropped (send the same bytes again) only
// after CHAIN_DROPPED_AFTER unknown; an unclear or refused broadcast never ends the transfer.
import { describe, expect, it } from 'vitest';
import { decideAfterNonceTooLow, decideBroadcast, decideWatch, type ChainView, type ReceiptView } from './transfer-progress.ts';

const rules = { confirmations: 2, droppedAfterMs: 30_000 };
const sentAt = new Date('2026-11-21T10:00:00Z');
const at = (seconds: number): Date => new Date(sentAt.getTime() + seconds * 1_000);
const transfer = { nonce: 7n, lastSeenAt: sentAt };

const receipt = (overrides: Partial<ReceiptView> = {}): ReceiptView => ({
  blockNumber: 100n,
  blockHash: `0x${'ab'.repeat(32)}`,
  succeeded: true,
  delivered: true,
  gasUsed: 21_000n,
  effectiveGasPriceWei: 1_000_000_007n,
  ...overrides,
});

const chain = (overrides: Partial<ChainView> = {}): ChainView => ({ minedNonce: 7n, receipt: null, knownToNode: true, headBlock: 100n, ...overrides });

describe('decideWatch', () => {
  it('given a receipt with too few confirmations, it is mined and waits', () => {
    expect(decideWatch(transfer, chain({ receipt: receipt(), headBlock: 100n, minedNonce: 8n }), rules, at(1))).toEqual({ kind: 'mined', receipt: receipt(), confirmations: 1n });
  });

  it('given enough confirmations, a successful receipt confirms', () => {
    expect(decideWatch(transfer, chain({ receipt: receipt(), headBlock: 101n, minedNonce: 8n }), rules, at(2))).toEqual({ kind: 'confirmed', receipt: receipt() });
  });

  it('given status 0, it is reverted with the gas used in the reason', () => {
    const reverted = receipt({ succeeded: false, delivered: false, gasUsed: 30_512n });
    expect(decideWatch(transfer, chain({ receipt: reverted, headBlock: 105n, minedNonce: 8n }), rules, at(2))).toEqual({
      kind: 'reverted',
      receipt: reverted,
      reason: 'reverted on chain in block 100 (receipt status 0), gas used 30512',
    });
  });

  it('given status 1 but no Transfer event of the token, it is not confirmed', () => {
    const decision = decideWatch(transfer, chain({ receipt: receipt({ delivered: false }), headBlock: 105n, minedNonce: 8n }), rules, at(2));
    expect(decision.kind).toBe('reverted');
  });

  it('given no receipt and the node has it, it is pending', () => {
    expect(decideWatch(transfer, chain({ knownToNode: true }), rules, at(600))).toEqual({ kind: 'pending' });
  });

  it('given no receipt, unknown to the node and the nonce taken, it is replaced', () => {
    expect(decideWatch(transfer, chain({ knownToNode: false, minedNonce: 8n }), rules, at(1))).toEqual({
      kind: 'replaced',
      reason: "nonce 7 was used by another transaction (the wallet's mined nonce is 8) and ours was never mined",
    });
  });

  it('given unknown to the node with its nonce free, it is missing until CHAIN_DROPPED_AFTER and dropped from then on', () => {
    expect(decideWatch(transfer, chain({ knownToNode: false }), rules, at(29.999))).toEqual({ kind: 'missing', unknownForMs: 29_999 });
    expect(decideWatch(transfer, chain({ knownToNode: false }), rules, at(30)).kind).toBe('dropped');
  });
});

describe('decideBroadcast', () => {
  it('given the node took the bytes, or already had them, it is broadcast', () => {
    expect(decideBroadcast({ kind: 'accepted' })).toEqual({ kind: 'broadcast' });
    expect(decideBroadcast({ kind: 'refused', rejection: 'already-known', message: 'Known transaction: 0x…' })).toEqual({ kind: 'broadcast' });
  });

  it('given "nonce too low", it asks the chain before deciding anything', () => {
    expect(decideBroadcast({ kind: 'refused', rejection: 'nonce-too-low', message: 'Nonce too low' })).toEqual({ kind: 'look-at-chain' });
  });

  it('given no answer or a missing earlier nonce, it stays signed without an alert; given another transaction holding the nonce, with one', () => {
    expect(decideBroadcast({ kind: 'unclear', message: 'no answer within 5000 ms' })).toMatchObject({ kind: 'retry', alert: false });
    expect(decideBroadcast({ kind: 'refused', rejection: 'nonce-too-high', message: 'Nonce too high' })).toMatchObject({ kind: 'retry', alert: false });
    expect(decideBroadcast({ kind: 'refused', rejection: 'replacement-underpriced', message: 'replacement transaction underpriced' })).toMatchObject({ kind: 'retry', alert: true });
  });

  it('given a max fee below the base fee, the same payment is signed again at a higher fee', () => {
    expect(decideBroadcast({ kind: 'refused', rejection: 'fee-too-low', message: 'too low for the next block' })).toMatchObject({ kind: 'replace', replacement: 'fee_bump' });
  });

  it('given a refusal of the payment itself, its nonce is filled by a zero-value self-transfer instead of blocking later ones', () => {
    expect(decideBroadcast({ kind: 'refused', rejection: 'insufficient-funds', message: 'insufficient funds' })).toMatchObject({ kind: 'replace', replacement: 'cancel' });
    expect(decideBroadcast({ kind: 'refused', rejection: 'other', message: 'intrinsic gas too low' })).toMatchObject({ kind: 'replace', replacement: 'cancel' });
  });
});

describe('decideAfterNonceTooLow', () => {
  it('given our receipt or our hash known, an earlier broadcast got through: broadcast', () => {
    expect(decideAfterNonceTooLow(7n, chain({ receipt: receipt(), minedNonce: 8n }))).toEqual({ kind: 'broadcast' });
    expect(decideAfterNonceTooLow(7n, chain({ knownToNode: true, minedNonce: 8n }))).toEqual({ kind: 'broadcast' });
  });

  it('given neither and the nonce taken: replaced', () => {
    expect(decideAfterNonceTooLow(7n, chain({ knownToNode: false, minedNonce: 8n })).kind).toBe('replaced');
  });

  it('given a chain that contradicts the refusal: nothing terminal, ask again', () => {
    expect(decideAfterNonceTooLow(7n, chain({ knownToNode: false, minedNonce: 7n })).kind).toBe('retry');
  });
});
