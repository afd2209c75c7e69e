// Proves the nonce comparison of the host wallet, given the ledger's and the node's nonces: a node
// lacking nonces the ledger used (a chain restarted from nothing) or another genesis block stops
// sending; a node ahead of the ledger (someone else used the key) is reported without stopping;
// pending transfers of our own are in step.
import { describe, expect, it } from 'vitest';
import { decideNonceStatus, type NonceFacts } from './nonce-check.ts';

const genesis = `0x${'11'.repeat(32)}`;
const facts = (overrides: Partial<NonceFacts>): NonceFacts => ({
  ledgerKnowsSender: true,
  ledgerNextNonce: 10n,
  ledgerOpenNonce: null,
  nodeMinedNonce: 10n,
  nodePendingNonce: 10n,
  recordedGenesisHash: genesis,
  nodeGenesisHash: genesis,
  ...overrides,
});

describe('decideNonceStatus', () => {
  it('given the node mined every nonce the ledger used, and holds our pending ones: in step', () => {
    expect(decideNonceStatus(facts({}))).toEqual({ status: 'in_step', gap: 0n, reason: null, blocksSending: false });
    expect(decideNonceStatus(facts({ ledgerOpenNonce: 8n, nodeMinedNonce: 8n, nodePendingNonce: 10n })).status).toBe('in_step');
  });

  it('given a ledger that never used the wallet, whatever the node says: in step (the node is the start)', () => {
    expect(decideNonceStatus(facts({ ledgerKnowsSender: false, ledgerNextNonce: 0n, nodeMinedNonce: 5n, nodePendingNonce: 5n })).status).toBe('in_step');
  });

  it('given a fresh chain under a ledger at nonce 950: node behind by 950, sending stops', () => {
    const finding = decideNonceStatus(facts({ ledgerNextNonce: 951n, ledgerOpenNonce: 950n, nodeMinedNonce: 0n, nodePendingNonce: 0n }));
    expect(finding).toMatchObject({ status: 'node_behind', gap: 950n, blocksSending: true });
    expect(finding.reason).toMatch(/mined nonce of the host wallet is 0 but the ledger used every nonce below 950/);
  });

  it('given someone else\'s transactions at nonces the ledger never signed: node ahead, sending goes on', () => {
    expect(decideNonceStatus(facts({ nodeMinedNonce: 12n, nodePendingNonce: 13n }))).toMatchObject({ status: 'node_ahead', gap: 3n, blocksSending: false });
  });

  it('given another genesis block for the same chain id: chain changed, sending stops, and the reason says how to reset', () => {
    const finding = decideNonceStatus(facts({ nodeGenesisHash: `0x${'22'.repeat(32)}`, nodeMinedNonce: 0n, nodePendingNonce: 0n }));
    expect(finding).toMatchObject({ status: 'chain_changed', gap: 10n, blocksSending: true });
    expect(finding.reason).toMatch(/stack reset --yes/);
  });
});
