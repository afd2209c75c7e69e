// An operator's requests to settlement, as the admin API records them: pay a client now
// (payout_trigger_requests), retry a failed batch now (payout_retry_requests). A request is a row
// plus a NOTIFY to settlement in one transaction; settlement acts on it (within milliseconds while
// it runs, at its next punctuation otherwise) under its lock and records what it did on the row.
// Nothing here writes a table settlement decides on: payout batches are formed and scheduled in
// one place only (docs/ownership.md).
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { Decimal } from '../../core/money.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { payoutRetryRequestsChannel, settlementRequestsChannel } from '../../db/settlement-notifications.ts';
import { retryRequestColumns, retryRequestRow, triggerRequestRow, type RetryRequestRow, type TriggerRequestRow } from './settlement-read-model.ts';

const freeTotalRow = z.object({ credits: z.number().int(), unpaid_usdt: decimalColumn });

export type PayoutRequestOutcome =
  | { readonly kind: 'client_not_found' }
  | { readonly kind: 'nothing_to_pay' }
  | { readonly kind: 'requested' | 'already_requested'; readonly request: TriggerRequestRow; readonly freeCredits: number; readonly freeUnpaidUsdt: Decimal };

export async function requestClientPayout(pool: DatabasePool, input: { clientId: string; requestId: string; actor: string; now: Date }): Promise<PayoutRequestOutcome> {
  return pool.transaction(async (transaction) => {
    // Locks the client row: two operators asking at once get one request.
    const client = await transaction.maybeOne(sql.type(z.object({ client_id: z.string() }))`SELECT client_id FROM clients WHERE client_id = ${input.clientId} FOR UPDATE`);
    if (client === null) return { kind: 'client_not_found' };
    const free = await transaction.one(sql.type(freeTotalRow)`
      SELECT count(*)::int AS credits, coalesce(sum(usdt_amount), 0) AS unpaid_usdt
      FROM unpaid_credit_states WHERE client_id = ${input.clientId} AND window_state = 'free'`);
    if (free.credits === 0) return { kind: 'nothing_to_pay' };
    const open = await transaction.maybeOne(sql.type(triggerRequestRow)`
      SELECT request_id, client_id, requested_by, requested_at, handled_at, outcome FROM payout_trigger_requests
      WHERE client_id = ${input.clientId} AND handled_at IS NULL ORDER BY requested_at LIMIT 1`);
    if (open !== null) return { kind: 'already_requested', request: open, freeCredits: free.credits, freeUnpaidUsdt: free.unpaid_usdt };
    const request = await transaction.one(sql.type(triggerRequestRow)`
      INSERT INTO payout_trigger_requests (request_id, client_id, requested_by, requested_at)
      VALUES (${input.requestId}, ${input.clientId}, ${input.actor}, ${sql.timestamp(input.now)})
      RETURNING request_id, client_id, requested_by, requested_at, handled_at, outcome`);
    await transaction.query(sql.unsafe`SELECT pg_notify(${settlementRequestsChannel}, ${`payout:${input.clientId}`})`);
    return { kind: 'requested', request, freeCredits: free.credits, freeUnpaidUsdt: free.unpaid_usdt };
  });
}

const retryTargetRow = z.object({ state: z.string(), retried_by: z.string().nullable() });

export type RetryRequestOutcome =
  | { readonly kind: 'batch_not_found' }
  | { readonly kind: 'not_failed'; readonly state: string }
  | { readonly kind: 'already_retried'; readonly retryBatchId: string }
  | { readonly kind: 'requested' | 'already_requested'; readonly request: RetryRequestRow };

/**
 * Records a request to retry a failed batch now. The answers an operator can act on at once (no
 * such batch, not failed, already retried) are given from what is committed; settlement checks
 * again under its lock when it handles the request, since the batch may change in between.
 */
export async function requestBatchRetry(pool: DatabasePool, input: { batchId: string; requestId: string; actor: string; now: Date }): Promise<RetryRequestOutcome> {
  return pool.transaction(async (transaction) => {
    const target = await transaction.maybeOne(sql.type(retryTargetRow)`
      SELECT p.state, (SELECT r.batch_id FROM payout_batches r WHERE r.retry_of = p.batch_id) AS retried_by
      FROM payout_batches p WHERE p.batch_id = ${input.batchId}`);
    if (target === null) return { kind: 'batch_not_found' };
    if (target.state !== 'failed') return { kind: 'not_failed', state: target.state };
    if (target.retried_by !== null) return { kind: 'already_retried', retryBatchId: target.retried_by };
    // One open request per batch (a partial unique index): two operators asking at once share it.
    const inserted = await transaction.maybeOne(sql.type(retryRequestRow)`
      INSERT INTO payout_retry_requests (request_id, batch_id, requested_by, requested_at)
      VALUES (${input.requestId}, ${input.batchId}, ${input.actor}, ${sql.timestamp(input.now)})
      ON CONFLICT (batch_id) WHERE handled_at IS NULL DO NOTHING
      RETURNING ${retryRequestColumns}`);
    if (inserted === null) {
      const open = await transaction.one(sql.type(retryRequestRow)`
        SELECT ${retryRequestColumns} FROM payout_retry_requests WHERE batch_id = ${input.batchId} ORDER BY requested_at DESC, request_id LIMIT 1`);
      return { kind: 'already_requested', request: open };
    }
    await transaction.query(sql.unsafe`SELECT pg_notify(${payoutRetryRequestsChannel}, ${input.batchId})`);
    return { kind: 'requested', request: inserted };
  });
}
