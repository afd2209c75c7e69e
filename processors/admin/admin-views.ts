// The JSON the admin API answers with. Amounts are decimal strings (never JSON numbers), times
// ISO 8601 in UTC.
import type { StoredClient } from './client-change.ts';
import type { ClientHistoryRow } from './client-store.ts';
import type { ConfigAuditEntry, MicroBatchThresholdState } from './threshold-store.ts';
import { pendingView, type PendingChangeView } from './pending-change-view.ts';

export interface ClientView {
  client_id: string;
  revision: number;
  strategy: 'instant' | 'threshold';
  threshold_usd: string | null;
  /** In force now. */
  wallet_address: string;
  payout_currency: string;
  payout_network: string;
  pending_wallet_address: string | null;
  pending_wallet_effective_at: string | null;
  /** The whole pending destination (a currency or network change waits with its wallet). */
  pending_change: PendingChangeView | null;
  created_at: string;
  updated_at: string;
}

export function clientView(client: StoredClient): ClientView {
  return {
    client_id: client.client_id,
    revision: client.revision,
    strategy: client.strategy,
    threshold_usd: client.threshold_usd?.toFixed() ?? null,
    wallet_address: client.wallet_address,
    payout_currency: client.payout_currency,
    payout_network: client.payout_network,
    pending_wallet_address: client.pending?.wallet_address ?? null,
    pending_wallet_effective_at: client.pending?.effective_at.toISOString() ?? null,
    pending_change: client.pending === null ? null : pendingView(client.pending),
    created_at: client.created_at.toISOString(),
    updated_at: client.updated_at.toISOString(),
  };
}

export function historyView(row: ClientHistoryRow): Record<string, unknown> {
  return { revision: row.revision, changed_by: row.changed_by, actor_note: row.actor_note, changed_at: row.changed_at.toISOString(), config: row.config };
}

export interface AuditEntryView {
  change_id: string;
  setting: string;
  old_value: string | null;
  new_value: string;
  changed_by: string;
  actor_note: string | null;
  changed_at: string;
}

export function auditView(entry: ConfigAuditEntry): AuditEntryView {
  return { ...entry, changed_at: entry.changed_at.toISOString() };
}

export function thresholdView(state: MicroBatchThresholdState): Record<string, unknown> {
  return {
    setting: state.setting,
    value: state.value.toFixed(),
    source: state.source,
    default_value: state.defaultValue.toFixed(),
    applied: state.applied === null ? null : { value: state.applied.value.toFixed(), updated_at: state.applied.updatedAt.toISOString() },
    last_change: state.lastChange === null ? null : auditView(state.lastChange),
  };
}
