// The admin API's recovery endpoints (same bearer token and error mapping as the rest):
//   GET  /api/conversion-recoveries                    conversions that failed after their pay-in, open first
//   POST /api/conversion-batches/:batchId/recovery     resolve one {resolution, usdt_amount?, note?}:
//        200 with what was done; 404 unknown batch; 409 unless the batch needs recovery (a second
//        resolution of the same batch changes nothing)
import type { Express, Request, RequestHandler, Response } from 'express';
import type { DatabasePool } from 'slonik';
import type { Logger } from '../../core/logger.ts';
import { parseJsonBody, rejection } from '../../core/http/http-errors.ts';
import { listConversionRecoveries, recoveryView, resolveConversionRecovery } from './conversion-recovery.ts';
import { parseRecoveryRequest } from './recovery-request.ts';
import { problem, RequestValidationError, type RequestActor } from '../../core/http/request-validation.ts';

export interface RecoveryRoutesOptions {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  jsonBody: readonly RequestHandler[];
  /** Who acts: the authenticated token's name, never a header's claim. */
  actorOf: (request: Request, response: Response) => RequestActor;
}

const batchIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const listLimit = 200;

export function mountRecoveryRoutes(app: Express, options: RecoveryRoutesOptions): void {
  const { pool, log } = options;

  app.get('/api/conversion-recoveries', async (_request: Request, response: Response) => {
    response.json({ recoveries: (await listConversionRecoveries(pool, listLimit)).map(recoveryView) });
  });

  app.post('/api/conversion-batches/:batchId/recovery', ...options.jsonBody, async (request: Request, response: Response) => {
    const batchId = String(request.params['batchId']);
    if (!batchIdPattern.test(batchId)) throw new RequestValidationError([problem('batchId', 'letters, digits and ._:- (1–128 characters)', 'batchId must be 1–128 letters, digits or ._:-')]);
    const input = parseRecoveryRequest(parseJsonBody(request.body));
    const { actor } = options.actorOf(request, response);
    const correlationId = String(response.locals['correlationId']);
    const outcome = await resolveConversionRecovery(pool, { batchId, input, actor, now: options.now(), correlationId });
    switch (outcome.kind) {
      case 'batch_not_found':
        throw rejection(404, 'conversion_batch_not_found', 'batchId', 'an existing conversion batch', `No conversion batch ${batchId}.`);
      case 'not_needing_recovery':
        throw rejection(409, 'conversion_not_needing_recovery', 'batchId', 'a conversion batch in needs_recovery', `Conversion batch ${batchId} is ${outcome.state}; only one that needs recovery can be resolved.`);
      case 'invalid_amount':
        throw new RequestValidationError([problem('usdt_amount', outcome.reason, `usdt_amount must be ${outcome.reason}.`)]);
      case 'resolved':
        log.info({ batchId, actor, resolution: outcome.resolution, payments: outcome.payments, credits: outcome.credits, correlationId }, 'conversion recovery resolved');
        response.json({ batch_id: batchId, resolution: outcome.resolution, resolved_by: actor, payments: outcome.payments, credits: outcome.credits });
        return;
    }
  });
}
