// A client's payout configuration as every processor sees it, and the one rule of which payout
// destination is in force when. The admin API writes the configuration, the router routes payments
// with it, settlement credits and shows balances with it: all three import this module, so they
// can never disagree about which wallet a payment is paid to. (The `clients` table's row schema
// stays in db/clients-table.ts; the admin's request parsing in processors/admin/client-config.ts.)
//
// The wallet-change cooldown. A client's payout destination — wallet address, currency and network
// together — does not change the moment someone asks: the new one waits WALLET_CHANGE_COOLDOWN
// (default 24 h), visible and cancellable, so a stolen admin session cannot redirect payouts at
// once. The three change as one unit because a currency or network switch alone can also make
// funds unreceivable (an exchange deposit address for ETH rarely credits USDC sent to it), and
// because credits are grouped by that triple: each credit stays with the destination in force
// when it was earned.
//
// Everything here is pure: time comes in as `now`, so the router can ask which address is in force
// for a payment and tests can move the clock.
import type { Decimal } from './money.ts';
import type { ClientPayoutConfig } from '../schemas/generated/records.ts';

// The merchant's Telegram channel id, the same text as in the webhook's order_id and in the
// clients table's CHECK, so a registration and the payments for it always meet.
export const clientIdPattern = /^-?[0-9]{1,14}$/;
export const clientIdRule = '-?[0-9]{1,14} (a Telegram channel id)';

export type PayoutStrategyName = 'instant' | 'threshold';
export const payoutStrategyNames: readonly PayoutStrategyName[] = ['instant', 'threshold'];

export interface PayoutDestination {
  readonly wallet_address: string;
  readonly payout_currency: string;
  readonly payout_network: string;
}

export interface PendingDestination extends PayoutDestination {
  readonly requested_at: Date;
  readonly requested_by: string;
  readonly effective_at: Date;
}

/**
 * What a consumer knows of a client, from its `clients` row or a ClientPayoutConfig record. The
 * pending wallet there is only ever a wallet change on the same currency and network (see
 * `publishedPendingOf`), so pairing it with the row's currency is always right.
 */
export interface WalletCooldownState {
  readonly wallet_address: string;
  readonly pending_wallet_address: string | null;
  readonly pending_wallet_effective_at: Date | null;
}

/** The wallet address payouts go to at `now`: the pending one once its cooldown has passed. */
export function effectiveWalletOf(client: WalletCooldownState, now: Date): string {
  const { pending_wallet_address: pending, pending_wallet_effective_at: effectiveAt } = client;
  if (pending !== null && effectiveAt !== null && now.getTime() >= effectiveAt.getTime()) return pending;
  return client.wallet_address;
}

/**
 * The whole destination in force at `now`. Consumers only ever see a pending wallet on the row's
 * own currency and network (`publishedPendingOf`), so the pair is the row's either way.
 */
export function destinationInForce(client: WalletCooldownState & PayoutDestination, now: Date): PayoutDestination {
  return { wallet_address: effectiveWalletOf(client, now), payout_currency: client.payout_currency, payout_network: client.payout_network };
}

export function isPendingDue(pending: PendingDestination | null, now: Date): pending is PendingDestination {
  return pending !== null && now.getTime() >= pending.effective_at.getTime();
}

export function sameDestination(left: PayoutDestination, right: PayoutDestination): boolean {
  return (
    left.wallet_address === right.wallet_address &&
    left.payout_currency === right.payout_currency &&
    left.payout_network === right.payout_network
  );
}

export function destinationOf(value: PayoutDestination): PayoutDestination {
  return { wallet_address: value.wallet_address, payout_currency: value.payout_currency, payout_network: value.payout_network };
}

export function pendingEffectiveAt(now: Date, cooldownMs: number): Date {
  return new Date(now.getTime() + cooldownMs);
}

/**
 * The pending change as consumers may see it (the `clients` columns and the Avro record, which
 * have a pending wallet but no pending currency or network): a wallet change on the same pair is
 * published with its effective time, so the router switches exactly then. A change of pair is not
 * published while it waits: the admin process applies it when due and publishes a new revision, so
 * no consumer ever pairs a new address with the old currency.
 */
export function publishedPendingOf(
  current: PayoutDestination,
  pending: PendingDestination | null,
): { pending_wallet_address: string | null; pending_wallet_effective_at: Date | null } {
  if (pending === null || pending.payout_currency !== current.payout_currency || pending.payout_network !== current.payout_network) {
    return { pending_wallet_address: null, pending_wallet_effective_at: null };
  }
  return { pending_wallet_address: pending.wallet_address, pending_wallet_effective_at: pending.effective_at };
}

/** The columns of a `clients` row that routing, crediting and balances depend on. */
export interface ClientPayoutRow extends WalletCooldownState, PayoutDestination {
  readonly client_id: string;
  readonly revision: number;
  readonly strategy: PayoutStrategyName;
  readonly threshold_usd: Decimal | null;
}

/** A ClientPayoutConfig record (the compacted client-payout-configs topic) as a `clients` row. */
export function clientRowOf(config: ClientPayoutConfig): ClientPayoutRow {
  return {
    client_id: config.client_id,
    revision: config.revision,
    strategy: config.strategy === 'INSTANT' ? 'instant' : 'threshold',
    threshold_usd: config.threshold_usd,
    wallet_address: config.wallet_address,
    payout_currency: config.payout_currency,
    payout_network: config.payout_network,
    pending_wallet_address: config.pending_wallet_address,
    pending_wallet_effective_at: config.pending_wallet_effective_at,
  };
}
