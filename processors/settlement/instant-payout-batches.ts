// Settlement owns payout_batches, including the batch of an instant payout. The router forms that
// batch's facts (route-payment.ts) and must write it in the same transaction that moves the payment
// to `instant_payout` — otherwise a crash between the two would leave a payment with no payout —
// so settlement lends it this one statement, to run inside the router's transaction. The SQL that
// writes settlement's tables stays in this folder (docs/ownership.md, db/table-ownership.test.ts).
import { sql, type DatabaseTransactionConnection } from 'slonik';
import type { Decimal } from '../../core/money.ts';

/** A new instant payout batch: `requested`, paying one payment's net ETH to the client's wallet in force. */
export interface NewInstantPayoutBatch {
  readonly batch_id: string;
  readonly client_id: string;
  readonly reason: 'instant';
  readonly state: 'requested';
  readonly wallet_address: string;
  readonly payout_currency: string;
  readonly payout_network: string;
  readonly source_currency: 'eth';
  readonly source_amount: Decimal;
  readonly usd_value: Decimal;
  readonly created_at: Date;
}

/**
 * One INSERT for the chunk's batches, one array parameter per column. The ids derive from the
 * payments, which the caller has just inserted or routed, so an existing batch id means the ledger
 * and the batches disagree: the unique violation fails the transaction instead of being skipped.
 */
export async function insertInstantPayoutBatches(transaction: DatabaseTransactionConnection, batches: readonly NewInstantPayoutBatch[]): Promise<void> {
  if (batches.length === 0) return;
  await transaction.query(sql.unsafe`
    INSERT INTO payout_batches (batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network,
                                source_currency, source_amount, usd_value, created_at)
    SELECT * FROM unnest(
      ${sql.array(batches.map((b) => b.batch_id), 'text')},
      ${sql.array(batches.map((b) => b.client_id), 'text')},
      ${sql.array(batches.map((b) => b.reason), 'text')},
      ${sql.array(batches.map((b) => b.state), 'text')},
      ${sql.array(batches.map((b) => b.wallet_address), 'text')},
      ${sql.array(batches.map((b) => b.payout_currency), 'text')},
      ${sql.array(batches.map((b) => b.payout_network), 'text')},
      ${sql.array(batches.map((b) => b.source_currency), 'text')},
      ${sql.array(batches.map((b) => b.source_amount.toFixed()), 'numeric')},
      ${sql.array(batches.map((b) => b.usd_value.toFixed()), 'numeric')},
      ${sql.array(batches.map((b) => b.created_at.toISOString()), 'timestamptz')}
    )
  `);
}
