// The row shape of the `clients` table (db/migrations/001_foundation.sql), read by the admin API
// and the router alike; each extends it with the columns its own query joins in.
import { z } from 'zod';
import { decimalColumn } from './column-types.ts';

export const clientsTableRow = z.object({
  client_id: z.string(),
  revision: z.number().int(),
  strategy: z.enum(['instant', 'threshold']),
  threshold_usd: decimalColumn.nullable(),
  wallet_address: z.string(),
  payout_currency: z.string(),
  payout_network: z.string(),
});
