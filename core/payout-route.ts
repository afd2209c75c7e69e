// How a payout reaches the client, decided from the asset it is paid from and the asset the client
// wants (pure). When both are the same asset on the same network — the pool's USDT to a usdt/eth
// wallet, an instant payment's ETH to an eth/eth wallet — an exchange has nothing to convert:
// ChangeNow answers pair_is_inactive for such a pair, and would only cost a fee if it did not. The
// payout is then a plain transfer from the host wallet to the client's wallet ('direct'). Any other
// pair goes through an exchange that pays the client ('exchange').
//
// The one place this is decided: settlement's per-client window (which quotes and limits apply) and
// the ChangeNow connector (exchange or transfer) both call it, so they can never disagree about a
// command — a window that skipped the exchange's range for a payout the connector then sends to
// ChangeNow (or the reverse) would leave money waiting with no one to move it.
//
// Exactly once on the direct route comes from the mechanisms the exchange route's pay-in already
// uses, nothing new: settlement forms the batch once (one transaction under the settlement lock; a
// partial unique index allows one live payout membership per credit); the ChangeNow connector turns
// its command into one transfer request with the id `<command id>:payin` in the same transaction
// as the state change (outbox); the chain connector signs and stores that transfer once and only
// rebroadcasts the stored bytes; the FINISHED swap event carrying the transaction hash has a
// deterministic event id that settlement's inbox claims once before marking the credits paid.

export type PayoutRoute = 'direct' | 'exchange';

/** A (currency, network) pair on each side, as ChangeNow names them (tickers, any case). */
export interface PayoutAssets {
  readonly fromCurrency: string;
  readonly fromNetwork: string;
  readonly toCurrency: string;
  readonly toNetwork: string;
}

export function payoutRouteOf(assets: PayoutAssets): PayoutRoute {
  const same = (left: string, right: string): boolean => left.trim().toLowerCase() === right.trim().toLowerCase();
  return same(assets.fromCurrency, assets.toCurrency) && same(assets.fromNetwork, assets.toNetwork) ? 'direct' : 'exchange';
}
