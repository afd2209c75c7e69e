// What a PUT of a client's configuration does to the stored client, decided without I/O:
// - no client yet: registered at once, wallet included (there is nothing to redirect yet);
// - strategy and threshold: take effect at once;
// - a new destination (wallet, currency, network): waits out the cooldown as a pending change; the
//   same request again leaves that pending change and its effective time alone; a third
//   destination replaces it and starts a new cooldown; asking for the destination in force keeps a
//   pending change (a GET-modify-PUT that only meant to change the threshold must not cancel it
//   silently: cancelling is its own request);
// - nothing different from what is in force: unchanged, nothing written, same revision.
// A pending change whose time has come is folded in first, so "in force" means in force at `now`.
import type { ClientConfigRequest } from './client-config.ts';
import type { Decimal } from '../../core/money.ts';
import {
  destinationOf,
  isPendingDue,
  pendingEffectiveAt,
  sameDestination,
  type PayoutDestination,
  type PayoutStrategyName,
  type PendingDestination,
} from '../../core/client-payout-config.ts';

export interface StoredClient extends PayoutDestination {
  readonly client_id: string;
  readonly revision: number;
  readonly strategy: PayoutStrategyName;
  readonly threshold_usd: Decimal | null;
  readonly pending: PendingDestination | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export type ClientChangeEvent =
  | 'registered'
  | 'strategy_changed'
  | 'threshold_changed'
  | 'destination_change_requested'
  | 'destination_changed'
  | 'pending_destination_applied'
  | 'pending_destination_cancelled';

export type ClientChangePlan =
  | { readonly kind: 'unchanged'; readonly client: StoredClient }
  | { readonly kind: 'created' | 'updated'; readonly client: StoredClient; readonly events: readonly ClientChangeEvent[] };

export interface PlanClientChangeInput {
  readonly clientId: string;
  readonly current: StoredClient | null;
  readonly request: ClientConfigRequest;
  readonly now: Date;
  readonly cooldownMs: number;
  readonly actor: string;
}

/** The client as it stands at `now`: a due pending destination is in force. */
export function settleClient(client: StoredClient, now: Date): { client: StoredClient; applied: boolean } {
  if (!isPendingDue(client.pending, now)) return { client, applied: false };
  return { client: { ...client, ...destinationOf(client.pending), pending: null }, applied: true };
}

function sameThreshold(left: Decimal | null, right: Decimal | null): boolean {
  return left === null || right === null ? left === right : left.equals(right);
}

export function planClientChange(input: PlanClientChangeInput): ClientChangePlan {
  const { request, now } = input;
  const requested = destinationOf(request);
  if (input.current === null) {
    return {
      kind: 'created',
      events: ['registered'],
      client: {
        client_id: input.clientId,
        revision: 1,
        strategy: request.strategy,
        threshold_usd: request.threshold_usd,
        ...requested,
        pending: null,
        created_at: now,
        updated_at: now,
      },
    };
  }

  const { client: current, applied } = settleClient(input.current, now);
  const events: ClientChangeEvent[] = applied ? ['pending_destination_applied'] : [];
  const substantive: ClientChangeEvent[] = [];
  if (request.strategy !== current.strategy) substantive.push('strategy_changed');
  if (!sameThreshold(request.threshold_usd, current.threshold_usd)) substantive.push('threshold_changed');

  let next: StoredClient = { ...current, strategy: request.strategy, threshold_usd: request.threshold_usd };
  const keepsDestination = sameDestination(requested, current);
  const repeatsPending = current.pending !== null && sameDestination(requested, current.pending);
  if (!keepsDestination && !repeatsPending) {
    if (input.cooldownMs <= 0) {
      next = { ...next, ...requested, pending: null };
      substantive.push('destination_changed');
    } else {
      next = { ...next, pending: { ...requested, requested_at: now, requested_by: input.actor, effective_at: pendingEffectiveAt(now, input.cooldownMs) } };
      substantive.push('destination_change_requested');
    }
  }

  if (substantive.length === 0) return { kind: 'unchanged', client: current };
  return { kind: 'updated', events: [...events, ...substantive], client: { ...next, revision: input.current.revision + 1, updated_at: now } };
}

export type CancelPendingPlan =
  | { readonly kind: 'cancelled'; readonly client: StoredClient; readonly cancelled: PendingDestination }
  | { readonly kind: 'nothing_pending' }
  | { readonly kind: 'already_effective'; readonly client: StoredClient };

export function planCancelPending(current: StoredClient, now: Date): CancelPendingPlan {
  if (current.pending === null) return { kind: 'nothing_pending' };
  if (isPendingDue(current.pending, now)) return { kind: 'already_effective', client: settleClient(current, now).client };
  return { kind: 'cancelled', cancelled: current.pending, client: { ...current, pending: null, revision: current.revision + 1, updated_at: now } };
}

/** A due pending destination applied as a revision of its own (the admin's cooldown sweep). */
export function planApplyDue(current: StoredClient, now: Date): StoredClient | null {
  const { client, applied } = settleClient(current, now);
  return applied ? { ...client, revision: current.revision + 1, updated_at: now } : null;
}
