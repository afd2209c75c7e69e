// The rows of a client's statement (statement.ts), read in one REPEATABLE READ snapshot so a payout
// finishing mid-read cannot make a row and the totals disagree. Reads only.
//   - for a payout: the payments whose credits the batch carried (its payout_batch_members, kept even
//     after a failure), or the instant payment of its chain; the payout shown is that batch.
//   - for a date range: the client's payments with paid_at in [from, to); the payout shown is the
//     credit's live batch, or for an instant payment the newest batch of its chain.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { decimalColumn } from '../../db/column-types.ts';
import type { StatementSource } from './statement.ts';

const decimal = decimalColumn;

/** A statement longer than this is refused: ask for a shorter range. */
export const statementRowsMax = 20_000;

const statementSourceRow = z.object({
  payment_id: z.string(),
  paid_at: z.string(),
  usd_gross: decimal,
  platform_fee_usd: decimal,
  usd_net: decimal,
  eth_net: decimal,
  conversion_batch_id: z.string().nullable(),
  conversion_total_usd: decimal.nullable(),
  usdt_credited: decimal.nullable(),
  payout_batch_id: z.string().nullable(),
  payout_state: z.enum(['requested', 'swapping', 'finished', 'failed']).nullable(),
  source_currency: z.string().nullable(),
  source_amount: decimal.nullable(),
  payout_currency: z.string().nullable(),
  payout_amount: decimal.nullable(),
  payout_hash: z.string().nullable(),
});
type StatementSourceRow = z.infer<typeof statementSourceRow>;

function sourceOf(row: StatementSourceRow): StatementSource {
  return {
    paymentId: row.payment_id,
    paidAt: row.paid_at,
    usdGross: row.usd_gross,
    platformFeeUsd: row.platform_fee_usd,
    usdNet: row.usd_net,
    ethNet: row.eth_net,
    conversionBatchId: row.conversion_batch_id,
    conversionTotalUsd: row.conversion_total_usd,
    usdtCredited: row.usdt_credited,
    payout:
      row.payout_batch_id === null || row.payout_state === null || row.source_currency === null || row.source_amount === null || row.payout_currency === null
        ? null
        : {
            batchId: row.payout_batch_id,
            state: row.payout_state,
            sourceCurrency: row.source_currency,
            sourceAmount: row.source_amount,
            payoutCurrency: row.payout_currency,
            payoutAmount: row.payout_amount,
            payoutHash: row.payout_hash,
          },
  };
}

export type StatementSelection = { readonly kind: 'payout'; readonly batchId: string } | { readonly kind: 'range'; readonly from: Date; readonly to: Date };

export type StatementRead =
  | { readonly kind: 'client_not_found' }
  | { readonly kind: 'payout_not_found' }
  | { readonly kind: 'too_many_rows' }
  | { readonly kind: 'rows'; readonly sources: readonly StatementSource[] };

const existsRow = z.object({ found: z.boolean() });

export async function readStatement(pool: DatabasePool, clientId: string, selection: StatementSelection): Promise<StatementRead> {
  return pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`);
    if (!(await transaction.oneFirst(sql.type(existsRow)`SELECT EXISTS (SELECT 1 FROM clients WHERE client_id = ${clientId}) AS found`))) {
      return { kind: 'client_not_found' };
    }
    const columns = sql.fragment`
      l.payment_id, to_char(l.paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS paid_at,
      l.usd_gross, l.platform_fee_usd, l.usd_net, l.eth_net,
      cb.batch_id AS conversion_batch_id, cb.total_usd AS conversion_total_usd, c.usdt_amount AS usdt_credited,
      pb.batch_id AS payout_batch_id, pb.state AS payout_state, pb.source_currency, pb.source_amount, pb.payout_currency, pb.payout_amount,
      pb.payout_hash`;
    const conversion = sql.fragment`
      LEFT JOIN usdt_credits c ON c.payment_id = l.payment_id
      LEFT JOIN conversion_batches cb ON cb.batch_id = coalesce(c.conversion_batch_id, l.conversion_batch_id)`;
    let rows: readonly StatementSourceRow[];
    if (selection.kind === 'payout') {
      const batch = await transaction.maybeOne(sql.type(z.object({ origin: z.string() }))`
        SELECT coalesce(origin_batch_id, batch_id) AS origin FROM payout_batches WHERE batch_id = ${selection.batchId} AND client_id = ${clientId}`);
      if (batch === null) return { kind: 'payout_not_found' };
      rows = await transaction.any(sql.type(statementSourceRow)`
        SELECT ${columns}
        FROM payment_ledger l ${conversion}
        JOIN payout_batches pb ON pb.batch_id = ${selection.batchId}
        WHERE l.client_id = ${clientId}
          AND (EXISTS (SELECT 1 FROM payout_batch_members m WHERE m.payout_batch_id = ${selection.batchId} AND m.credit_id = c.credit_id)
               OR (l.state = 'instant_payout' AND l.payout_batch_id = ${batch.origin}))
        ORDER BY l.paid_at, l.payment_id
        LIMIT ${statementRowsMax + 1}`);
    } else {
      rows = await transaction.any(sql.type(statementSourceRow)`
        SELECT ${columns}
        FROM payment_ledger l ${conversion}
        LEFT JOIN LATERAL (
          SELECT p.batch_id, p.state, p.source_currency, p.source_amount, p.payout_currency, p.payout_amount, p.payout_hash
          FROM payout_batches p
          WHERE p.batch_id = c.payout_batch_id
             OR (l.state = 'instant_payout' AND (p.batch_id = l.payout_batch_id OR p.origin_batch_id = l.payout_batch_id))
          ORDER BY p.attempts DESC, p.created_at DESC LIMIT 1) pb ON TRUE
        WHERE l.client_id = ${clientId} AND l.paid_at >= ${sql.timestamp(selection.from)} AND l.paid_at < ${sql.timestamp(selection.to)}
        ORDER BY l.paid_at, l.payment_id
        LIMIT ${statementRowsMax + 1}`);
    }
    if (rows.length > statementRowsMax) return { kind: 'too_many_rows' };
    return { kind: 'rows', sources: rows.map(sourceOf) };
  });
}
