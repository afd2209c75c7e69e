// Settlement's side of an operator's retry request (payout_retry_requests, db/migrations/014): the
// admin API only records the request and NOTIFYs; settlement — the one writer of payout_batches —
// handles every open request in one transaction under the settlement lock: it makes the failed
// batch's retry due (next_retry_at, who asked, when) or refuses (decideRetryRequest), and marks the
// request handled with its outcome. Then it asks the window to evaluate, which forms the due retry
// as a new batch at once, exactly as an automatic retry.
//
// Triggered by the notification (within milliseconds), by every (re)connect of the listener
// (notifications sent while nobody listened are gone), and by the punctuation as the safety net.
// Runs are coalesced, and handling is idempotent: a handled request is never handled again.
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { Logger } from '../../core/logger.ts';
import type { Shutdown } from '../../core/shutdown.ts';
import { createCoalescingRunner } from '../../core/processing/coalescing-runner.ts';
import { startPunctuation } from '../../core/processing/punctuation.ts';
import type { Clock } from '../../core/clock.ts';
import { startNotificationListener } from '../../db/notification-listener.ts';
import { payoutRetryRequestsChannel } from '../../db/settlement-notifications.ts';
import { decideRetryRequest, type RetryRequestDecision } from './payout-retry.ts';
import { lockSettlement } from './settlement-lock.ts';

/** Requests handled per transaction at most; the rest by the next run, which this one requests. */
const requestsPerRunMax = 100;

const openRequestRow = z.object({
  request_id: z.string(),
  batch_id: z.string(),
  requested_by: z.string(),
  requested_at: z.date(),
  state: z.string(),
  retried_by: z.string().nullable(),
  next_retry_at: z.date().nullable(),
});

export interface HandledRetryRequest {
  readonly requestId: string;
  readonly batchId: string;
  readonly requestedBy: string;
  readonly decision: RetryRequestDecision;
}

async function recordDecision(transaction: DatabaseTransactionConnection, request: z.infer<typeof openRequestRow>, decision: RetryRequestDecision, now: Date): Promise<void> {
  if (decision.outcome === 'retry_scheduled') {
    await transaction.query(sql.unsafe`
      UPDATE payout_batches SET next_retry_at = ${sql.timestamp(decision.retryAt)}, retry_requested_by = ${request.requested_by},
                                retry_requested_at = ${sql.timestamp(request.requested_at)}
      WHERE batch_id = ${request.batch_id}`);
  }
  await transaction.query(sql.unsafe`
    UPDATE payout_retry_requests
    SET handled_at = ${sql.timestamp(now)}, outcome = ${decision.outcome},
        retry_at = ${decision.outcome === 'retry_scheduled' ? sql.timestamp(decision.retryAt) : null}, detail = ${decision.detail}
    WHERE request_id = ${request.request_id} AND handled_at IS NULL`);
}

/** Handles the open retry requests, oldest first, in one transaction under the settlement lock. */
export async function handleRetryRequests(pool: DatabasePool, now: () => Date): Promise<readonly HandledRetryRequest[]> {
  return pool.transaction(async (transaction) => {
    await lockSettlement(transaction);
    // Read after the lock was granted: the batch's state is the one no other settlement decision can change now.
    const at = now();
    const open = await transaction.any(sql.type(openRequestRow)`
      SELECT r.request_id, r.batch_id, r.requested_by, r.requested_at, b.state, b.next_retry_at,
             (SELECT n.batch_id FROM payout_batches n WHERE n.retry_of = b.batch_id) AS retried_by
      FROM payout_retry_requests r JOIN payout_batches b ON b.batch_id = r.batch_id
      WHERE r.handled_at IS NULL
      ORDER BY r.requested_at, r.request_id
      LIMIT ${requestsPerRunMax}`);
    const handled: HandledRetryRequest[] = [];
    for (const request of open) {
      const decision = decideRetryRequest({ state: request.state, retriedBy: request.retried_by, nextRetryAt: request.next_retry_at }, at);
      await recordDecision(transaction, request, decision, at);
      handled.push({ requestId: request.request_id, batchId: request.batch_id, requestedBy: request.requested_by, decision });
    }
    return handled;
  });
}

export interface RetryRequestHandlingOptions {
  pool: DatabasePool;
  databaseUrl: string;
  applicationName: string;
  log: Logger;
  /** The clock of the requests' timestamps and of the punctuation. */
  clock: Clock;
  /** The safety net's period (WINDOW_PUNCTUATION_INTERVAL). */
  punctuationIntervalMs: number;
  /** Asks the window to evaluate: it forms the retries that became due. */
  evaluateWindow: () => Promise<void>;
  shutdown: Shutdown;
}

/** Starts handling retry requests on their notification and on the punctuation; stopped by `shutdown`. */
export function startRetryRequestHandling(options: RetryRequestHandlingOptions): void {
  const { log } = options;
  const runner = createCoalescingRunner(async () => {
    try {
      const handled = await handleRetryRequests(options.pool, () => options.clock.now());
      for (const request of handled) {
        log.info({ requestId: request.requestId, payoutBatchId: request.batchId, requestedBy: request.requestedBy, outcome: request.decision.outcome, detail: request.decision.detail }, 'payout retry request handled');
      }
      if (handled.some((request) => request.decision.outcome === 'retry_scheduled')) await options.evaluateWindow();
      if (handled.length === requestsPerRunMax) void runner.request();
    } catch (error) {
      // Nothing was written (one transaction): the next notification or punctuation tries again.
      log.warn({ err: error }, 'payout retry requests not handled; the next run retries');
    }
  });
  const listener = startNotificationListener({
    databaseUrl: options.databaseUrl,
    channel: payoutRetryRequestsChannel,
    applicationName: `${options.applicationName}-retry-requests`,
    log,
    onNotification: () => void runner.request(),
    onConnected: () => void runner.request(),
  });
  const punctuation = startPunctuation({ intervalMs: options.punctuationIntervalMs, log, clock: options.clock, run: () => runner.request() });
  // Registered after the consumer and the pool, so it is stopped before them.
  options.shutdown.add('payout retry requests', async () => {
    await listener.stop();
    await punctuation.stop();
    await runner.idle();
  });
}
