// Payments a failed conversion (or a resolved recovery) hands back to the accumulator's window: the
// UPDATE that moves them to pending_conversion returns what the notification must carry, and the
// NOTIFY in the same transaction is delivered on commit only, so the accumulator's running summary
// (processors/accumulator/pending-summary.ts) learns of exactly the rows that really went back.
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { decimalColumn } from '../../db/column-types.ts';
import { arrivalOf, encodeLedgerPending, ledgerPendingChannel } from '../../db/ledger-notifications.ts';

/** The RETURNING list of an UPDATE that moves ledger rows back to pending_conversion. */
export const returnedToPendingRow = z.object({ usd_net: decimalColumn, received_at: z.date() });

export async function notifyReturnedToPending(transaction: DatabaseTransactionConnection, rows: readonly z.infer<typeof returnedToPendingRow>[]): Promise<void> {
  const arrival = arrivalOf(rows.map((row) => ({ usdNet: row.usd_net, receivedAt: row.received_at })));
  if (arrival === undefined) return;
  // Delivered on commit: the accumulator re-evaluates the global window within milliseconds.
  await transaction.query(sql.unsafe`SELECT pg_notify(${ledgerPendingChannel}, ${encodeLedgerPending(arrival)})`);
}
