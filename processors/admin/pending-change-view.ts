// The JSON of a pending payout-destination change. Its own module because two sides need the same
// shape: the API's answers (admin-views.ts) and the history snapshot client-store.ts writes — the
// history stores what the API shows, and the store must not depend on the views module (which
// reads the store's row types).
import type { PendingDestination } from '../../core/client-payout-config.ts';

export interface PendingChangeView {
  wallet_address: string;
  payout_currency: string;
  payout_network: string;
  requested_by: string;
  requested_at: string;
  effective_at: string;
}

export function pendingView(pending: PendingDestination): PendingChangeView {
  return {
    wallet_address: pending.wallet_address,
    payout_currency: pending.payout_currency,
    payout_network: pending.payout_network,
    requested_by: pending.requested_by,
    requested_at: pending.requested_at.toISOString(),
    effective_at: pending.effective_at.toISOString(),
  };
}
