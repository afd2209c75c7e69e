// Settlement's HTTP endpoints, served by the admin API (behind the same bearer token and error
// mapping as the rest of it):
//   GET  /api/clients/:clientId/balance      every unpaid group of the client, with its state and reason
//   POST /api/clients/:clientId/payouts      pay the client's free unpaid groups now (202; settlement acts)
//   GET  /api/payout-requests/:requestId     what settlement did with such a request
//   GET  /api/payout-batches/:id             the batch's lineage: payments → conversion → share → payout
//   POST /api/payout-batches/:id/retry       retry a failed batch now (202 with the retry request; 409 unless
//                                            it failed and has no retry; settlement schedules it and records
//                                            what it did on the request)
//   GET  /api/payout-retry-requests/:requestId   what settlement did with such a request
//   GET  /api/reconciliation                 the invariants' violations; 200 with an empty list when the
//                                            books balance — the check itself worked, so it is never an
//                                            HTTP error: monitoring reads `ok` and `violations`; and
//                                            liveness: `findings` (waits that cannot clear by themselves,
//                                            `liveness_ok`) and `waiting` (every unpaid amount, state,
//                                            reason, age). Read only: alerts come from the periodic check.
import type { Express, Request, RequestHandler, Response } from 'express';
import type { DatabasePool } from 'slonik';
import type { Logger } from '../../core/logger.ts';
import { rejection } from '../../core/http/http-errors.ts';
import { findUnroutedPayments, findViolations } from '../../db/reconciliation.ts';
import { findFindings, findWaiting, type LivenessRules } from '../../db/liveness.ts';
import { parseClientId, problem, RequestValidationError, type RequestActor } from '../../core/http/request-validation.ts';
import { describeBalance } from './client-balance.ts';
import { loadClientBalance, loadPayoutLineage, loadRetryRequest, loadTriggerRequest } from './settlement-read-model.ts';
import { requestBatchRetry, requestClientPayout } from './operator-requests.ts';
import { mountRecoveryRoutes } from './recovery-routes.ts';
import { balanceView, lineageView, reconciliationView, retryRequestView, triggerRequestView } from './settlement-views.ts';

export interface SettlementRoutesOptions {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  newRequestId: () => string;
  /** PAYOUT_MAX_AGE, for "paid anyway from" in the balance. */
  payoutMaxAgeMs: number;
  /** Who acts for a request: the admin token's name (and the caller's note, logged here). */
  actorOf: (request: Request, response: Response) => RequestActor;
  livenessRules: LivenessRules;
  /** The admin app's JSON body handling (content type, size limit), for the recovery resolution. */
  jsonBody: readonly RequestHandler[];
}

const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;

function parseId(field: string, text: string): string {
  if (!idPattern.test(text)) throw new RequestValidationError([problem(field, 'letters, digits and ._:- (1–128 characters)', `${field} must be 1–128 letters, digits or ._:-`)]);
  return text;
}

function clientNotFound(clientId: string): Error {
  return rejection(404, 'client_not_found', 'clientId', 'a registered client', `Client ${clientId} is not registered.`);
}

/**
 * Settlement's HTTP API, mounted by the admin process (which authenticates, limits and maps errors):
 * these routes, and the conversion recovery routes (recovery-routes.ts).
 */
export function mountSettlementRoutes(app: Express, options: SettlementRoutesOptions): void {
  const { pool, log } = options;
  mountRecoveryRoutes(app, { pool, log, now: options.now, jsonBody: options.jsonBody, actorOf: options.actorOf });
  const correlationIdOf = (response: Response): string => String(response.locals['correlationId']);

  app.get('/api/clients/:clientId/balance', async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    const rows = await loadClientBalance(pool, clientId, options.now(), options.payoutMaxAgeMs);
    if (rows === null) throw clientNotFound(clientId);
    response.json(balanceView(clientId, rows.strategy, rows.input.thresholdUsd, rows.totals, describeBalance(rows.input)));
  });

  app.post('/api/clients/:clientId/payouts', async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    const { actor, note } = options.actorOf(request, response);
    const outcome = await requestClientPayout(pool, { clientId, requestId: options.newRequestId(), actor, now: options.now() });
    switch (outcome.kind) {
      case 'client_not_found':
        throw clientNotFound(clientId);
      case 'nothing_to_pay':
        throw rejection(409, 'nothing_to_pay', 'clientId', 'free unpaid credits', `Client ${clientId} has no unpaid credits that are not already in a payout or waiting for a retry.`);
      case 'requested':
      case 'already_requested':
        log.info({ clientId, requestId: outcome.request.request_id, actor, actorNote: note, outcome: outcome.kind, correlationId: correlationIdOf(response) }, 'client payout requested');
        response.status(202).json({
          outcome: outcome.kind,
          request: triggerRequestView(outcome.request),
          free_credits: outcome.freeCredits,
          free_unpaid_usdt: outcome.freeUnpaidUsdt.toFixed(),
        });
        return;
    }
  });

  app.get('/api/payout-requests/:requestId', async (request: Request, response: Response) => {
    const requestId = parseId('requestId', String(request.params['requestId']));
    const found = await loadTriggerRequest(pool, requestId);
    if (found === null) throw rejection(404, 'payout_request_not_found', 'requestId', 'an existing payout request', `No payout request ${requestId}.`);
    response.json({ request: triggerRequestView(found) });
  });

  app.get('/api/payout-batches/:batchId', async (request: Request, response: Response) => {
    const batchId = parseId('batchId', String(request.params['batchId']));
    const lineage = await loadPayoutLineage(pool, batchId);
    if (lineage === null) throw rejection(404, 'payout_batch_not_found', 'batchId', 'an existing payout batch', `No payout batch ${batchId}.`);
    response.json(lineageView(lineage));
  });

  app.post('/api/payout-batches/:batchId/retry', async (request: Request, response: Response) => {
    const batchId = parseId('batchId', String(request.params['batchId']));
    const { actor, note } = options.actorOf(request, response);
    const outcome = await requestBatchRetry(pool, { batchId, requestId: options.newRequestId(), actor, now: options.now() });
    switch (outcome.kind) {
      case 'batch_not_found':
        throw rejection(404, 'payout_batch_not_found', 'batchId', 'an existing payout batch', `No payout batch ${batchId}.`);
      case 'not_failed':
        throw rejection(409, 'payout_batch_not_failed', 'batchId', 'a failed payout batch', `Payout batch ${batchId} is ${outcome.state}; only a failed batch can be retried.`);
      case 'already_retried':
        throw rejection(409, 'payout_batch_already_retried', 'batchId', 'a failed batch without a retry', `Payout batch ${batchId} was already retried as ${outcome.retryBatchId}.`);
      case 'requested':
      case 'already_requested':
        // Accepted, not done: settlement schedules the retry under its lock and records the outcome
        // on the request (GET /api/payout-retry-requests/:requestId); the retry batch shows in the lineage.
        log.info({ batchId, requestId: outcome.request.request_id, actor, actorNote: note, outcome: outcome.kind, correlationId: correlationIdOf(response) }, 'payout batch retry requested');
        response.status(202).json({
          outcome: outcome.kind === 'requested' ? 'retry_requested' : 'already_requested',
          batch_id: batchId,
          requested_by: outcome.request.requested_by,
          request: retryRequestView(outcome.request),
        });
        return;
    }
  });

  app.get('/api/payout-retry-requests/:requestId', async (request: Request, response: Response) => {
    const requestId = parseId('requestId', String(request.params['requestId']));
    const found = await loadRetryRequest(pool, requestId);
    if (found === null) throw rejection(404, 'payout_retry_request_not_found', 'requestId', 'an existing payout retry request', `No payout retry request ${requestId}.`);
    response.json({ request: retryRequestView(found) });
  });

  app.get('/api/reconciliation', async (_request: Request, response: Response) => {
    const violations = await findViolations(pool);
    const unrouted = await findUnroutedPayments(pool);
    const now = options.now();
    const findings = await findFindings(pool, options.livenessRules, now);
    const waiting = await findWaiting(pool);
    if (violations.length > 0) log.error({ alert: true, violations: violations.length }, 'reconciliation found violations');
    response.json(reconciliationView(violations, unrouted.length, now, findings, waiting));
  });
}
