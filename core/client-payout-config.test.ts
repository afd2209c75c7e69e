// Proves the one rule every processor uses for "which destination is in force": the row's until
// the pending wallet's cooldown has passed, then the pending wallet on the row's own pair.
import { describe, expect, it } from 'vitest';
import { destinationInForce } from './client-payout-config.ts';

const effectiveAt = new Date('2026-12-01T12:00:00.000Z');
const client = {
  wallet_address: 'old-wallet',
  payout_currency: 'xmr',
  payout_network: 'xmr',
  pending_wallet_address: 'new-wallet',
  pending_wallet_effective_at: effectiveAt,
};

describe('the destination in force', () => {
  it("is the row's until the cooldown has passed, then the pending wallet on the same pair", () => {
    expect(destinationInForce(client, new Date(effectiveAt.getTime() - 1))).toEqual({ wallet_address: 'old-wallet', payout_currency: 'xmr', payout_network: 'xmr' });
    expect(destinationInForce(client, effectiveAt)).toEqual({ wallet_address: 'new-wallet', payout_currency: 'xmr', payout_network: 'xmr' });
  });

  it("is the row's when nothing is pending", () => {
    expect(destinationInForce({ ...client, pending_wallet_address: null, pending_wallet_effective_at: null }, effectiveAt)).toEqual({ wallet_address: 'old-wallet', payout_currency: 'xmr', payout_network: 'xmr' });
  });
});
