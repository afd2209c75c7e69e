// The row shape of the `payout_batches` table (db/migrations/001_foundation.sql and
// 006_settlement.sql), read by settlement and by the admin API; each query picks the columns it
// selects, so a column's type is written down once.
import { z } from 'zod';
import { decimalColumn } from './column-types.ts';

export const payoutBatchesTableRow = z.object({
  batch_id: z.string(),
  client_id: z.string(),
  reason: z.string(),
  state: z.enum(['requested', 'swapping', 'finished', 'failed']),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
  source_currency: z.string(),
  source_amount: decimalColumn,
  usd_value: decimalColumn,
  exchange_id: z.string().nullable(),
  exchange_status: z.string().nullable(),
  payin_hash: z.string().nullable(),
  payout_hash: z.string().nullable(),
  payout_amount: decimalColumn.nullable(),
  failure_reason: z.string().nullable(),
  attempts: z.number().int(),
  retry_of: z.string().nullable(),
  origin_batch_id: z.string().nullable(),
  next_retry_at: z.date().nullable(),
  retry_requested_by: z.string().nullable(),
  retry_requested_at: z.date().nullable(),
  retries_exhausted_at: z.date().nullable(),
  requested_by: z.string().nullable(),
  created_at: z.date(),
  completed_at: z.date().nullable(),
  failed_at: z.date().nullable(),
});
