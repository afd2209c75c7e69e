// The PostgreSQL notification channels from the admin API to settlement: the admin NOTIFYs one in
// the transaction that records an operator's request (delivered on commit), and settlement LISTENs
// to act within milliseconds instead of at its next punctuation.
import { z } from 'zod';
import { parseNotificationPayload } from './notification-payload.ts';
/** A payout trigger ("pay this client now", payout_trigger_requests): the window evaluates. */
export const settlementRequestsChannel = 'settlement_requests';
/** A retry request (payout_retry_requests): settlement schedules the batch's retry, then the window forms it. */
export const payoutRetryRequestsChannel = 'payout_retry_requests';

// ---- settlement's running window state (processors/settlement/incremental-payout-window.ts) ----
// Writers that can make a payout group due NOTIFY this channel in their own transaction (delivered
// on commit only): settlement when a finished conversion issues credits (conversion-store.ts), the
// admin API and the router when a client's configuration is stored (its threshold or strategy may
// have changed). The payload names what changed — the conversion batch whose credits were issued,
// or the client — so each listening settlement instance reads just those rows (O(new)). Anything
// that does not decode is "unknown": the reader rebuilds its state from the database.

export const settlementWindowChannel = 'settlement_window';

export type SettlementWindowNotice =
  | { readonly kind: 'credits'; readonly conversionBatchId: string }
  | { readonly kind: 'client'; readonly clientId: string }
  | { readonly kind: 'unknown' };

const windowPayloadVersion = 1;

const windowPayload = z.union([
  z.object({ v: z.literal(windowPayloadVersion), credits: z.string().min(1) }).strict(),
  z.object({ v: z.literal(windowPayloadVersion), client: z.string().min(1) }).strict(),
]);

/** The credits of this conversion batch were issued (a few dozen bytes, far below NOTIFY's 8000-byte limit). */
export function encodeCreditsIssued(conversionBatchId: string): string {
  return JSON.stringify({ v: windowPayloadVersion, credits: conversionBatchId });
}

/** This client's payout configuration was stored. */
export function encodeClientChanged(clientId: string): string {
  return JSON.stringify({ v: windowPayloadVersion, client: clientId });
}

export function decodeSettlementWindow(payload: string | undefined): SettlementWindowNotice {
  const parsed = parseNotificationPayload(payload, windowPayload);
  if (parsed === undefined) return { kind: 'unknown' };
  return 'credits' in parsed ? { kind: 'credits', conversionBatchId: parsed.credits } : { kind: 'client', clientId: parsed.client };
}
