// The PostgreSQL notification channel that links the writers of pending-conversion ledger rows (the
// router, settlement when a conversion fails or a recovery returns payments) to the accumulator:
// a writer notifies it in the transaction that makes rows pending (delivered on commit only), and
// the accumulator LISTENs on it to evaluate the global window within milliseconds.
//
// The payload says what became pending in that transaction — how many rows, their USD net sum and
// the oldest received_at — so the accumulator can keep its running summary of the window in O(1)
// per notification instead of reading every pending row. This module is the only definition of the
// payload: writers encode with it, the accumulator decodes with it. The USD sum travels as decimal
// text (never a JS number). Anything that does not decode — an old writer's bare count, a hand-sent
// NOTIFY, a payload from a future version — is "unknown": the reader must rebuild from the ledger.
import { z } from 'zod';
import { parseNotificationPayload } from './notification-payload.ts';
import { Decimal, plainDecimalPattern } from '../core/money.ts';

export const ledgerPendingChannel = 'ledger_pending';

/** What one committed transaction made pending. */
export interface LedgerPendingArrival {
  readonly count: number;
  readonly usdNet: Decimal;
  readonly oldestReceivedAt: Date;
}

export type LedgerPendingNotice = { readonly kind: 'arrival'; readonly arrival: LedgerPendingArrival } | { readonly kind: 'unknown' };

const payloadVersion = 1;

const payloadSchema = z
  .object({
    v: z.literal(payloadVersion),
    count: z.number().int().positive(),
    usdNet: z.string().regex(plainDecimalPattern),
    oldestReceivedAt: z.string().datetime({ offset: true }),
  })
  .strict();

/** The rows a transaction made pending, folded into one arrival; undefined when there are none. */
export function arrivalOf(rows: readonly { readonly usdNet: Decimal; readonly receivedAt: Date }[]): LedgerPendingArrival | undefined {
  const first = rows[0];
  if (first === undefined) return undefined;
  let usdNet = new Decimal(0);
  let oldest = first.receivedAt;
  for (const row of rows) {
    usdNet = usdNet.plus(row.usdNet);
    if (row.receivedAt.getTime() < oldest.getTime()) oldest = row.receivedAt;
  }
  return { count: rows.length, usdNet, oldestReceivedAt: oldest };
}

/** A few dozen bytes whatever the number of rows: far below NOTIFY's 8000-byte payload limit. */
export function encodeLedgerPending(arrival: LedgerPendingArrival): string {
  return JSON.stringify({ v: payloadVersion, count: arrival.count, usdNet: arrival.usdNet.toFixed(), oldestReceivedAt: arrival.oldestReceivedAt.toISOString() });
}

export function decodeLedgerPending(payload: string | undefined): LedgerPendingNotice {
  const parsed = parseNotificationPayload(payload, payloadSchema);
  if (parsed === undefined) return { kind: 'unknown' };
  const oldestReceivedAt = new Date(parsed.oldestReceivedAt);
  if (Number.isNaN(oldestReceivedAt.getTime())) return { kind: 'unknown' };
  return { kind: 'arrival', arrival: { count: parsed.count, usdNet: new Decimal(parsed.usdNet), oldestReceivedAt } };
}
