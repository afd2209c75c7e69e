// The admin API's quarantine endpoints (behind the same bearer token and error mapping as the rest):
//   GET  /api/quarantine?state=held&limit=100   quarantined IPNs, oldest first (state: held, reinjected, dismissed)
//   GET  /api/quarantine/:id                    one quarantined IPN, with the body exactly as received
//   POST /api/quarantine/:id/reinject           {"body": {…}} or {"overrides": {field: value}}, optional "note":
//                                               the corrected IPN goes through the webhook's validation and
//                                               intake (422 naming the field if it still breaks a rule; 409 if the
//                                               row is resolved or the payment id was accepted with other amounts)
//   POST /api/quarantine/:id/dismiss            {"reason": "…"}: closes the row without moving money
// Every resolution records the actor (X-Actor) and when.
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { rejection, requireJsonContentType } from '../../core/http/http-errors.ts';
import { ipnJsonShapeLimits, parseBoundedJsonBody } from '../webhook/json-limits.ts';
import { quarantineStates, type QuarantinedIpn, type QuarantineState } from '../webhook/ipn-quarantine.ts';
import { ConflictingPaymentError } from '../webhook/payment-intake.ts';
import { isJsonObject, problem, RequestValidationError, unknownFieldProblems, type RequestActor } from '../../core/http/request-validation.ts';
import { QuarantineNotFoundError, QuarantineResolvedError, type Correction, type QuarantineService } from './quarantine-service.ts';

export interface QuarantineRoutesOptions {
  quarantine: QuarantineService;
  bodyLimitBytes: number;
  /** Who acts: the authenticated token's name, never a header's claim. */
  actorOf: (request: Request, response: Response) => RequestActor;
}

const listLimitMax = 1_000;
const noteLengthMax = 500;

export function parseQuarantineId(text: string): string {
  // bigint identity; 18 digits keep any value below the column's maximum.
  if (!/^[1-9][0-9]{0,17}$/.test(text)) {
    throw new RequestValidationError([problem('id', 'a quarantine id (1–18 digits)', 'id must be the quarantine id, 1–18 digits.')]);
  }
  return text;
}

function parseListQuery(request: Request): { state?: QuarantineState; limit: number } {
  const { state, limit } = request.query;
  const problems = [];
  if (state !== undefined && !(typeof state === 'string' && (quarantineStates as readonly string[]).includes(state))) {
    problems.push(problem('state', `one of ${quarantineStates.join(', ')}`, `state must be one of ${quarantineStates.join(', ')}.`));
  }
  if (limit !== undefined && !(typeof limit === 'string' && /^[1-9][0-9]{0,3}$/.test(limit) && Number(limit) <= listLimitMax)) {
    problems.push(problem('limit', `an integer from 1 to ${listLimitMax}`, `limit must be an integer from 1 to ${listLimitMax}.`));
  }
  if (problems.length > 0) throw new RequestValidationError(problems);
  return { ...(state === undefined ? {} : { state: state as QuarantineState }), limit: limit === undefined ? 100 : Number(limit) };
}

function parseText(field: string, value: unknown, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) throw new RequestValidationError([problem(field, 'is required', `${field} is required.`)]);
    return null;
  }
  if (typeof value !== 'string' || value.trim() === '' || value.length > noteLengthMax || [...value].some((character) => character < ' ')) {
    throw new RequestValidationError([
      problem(field, `1–${noteLengthMax} characters of text`, `${field} must be 1–${noteLengthMax} characters of text without control characters.`),
    ]);
  }
  return value;
}

export function parseDismissReason(value: unknown): string {
  return parseText('reason', value, true) ?? '';
}

export function parseReinjectRequest(body: unknown): { correction: Correction; note: string | null } {
  if (!isJsonObject(body)) throw new RequestValidationError([problem('body', 'a JSON object', 'The request body must be a JSON object.')]);
  const unknown = unknownFieldProblems(body, ['body', 'overrides', 'note']);
  if (unknown.length > 0) throw new RequestValidationError(unknown);
  const note = parseText('note', body['note'], false);
  const given = ['body', 'overrides'].filter((field) => body[field] !== undefined);
  if (given.length !== 1) {
    throw new RequestValidationError([problem('body', 'exactly one of body, overrides', 'Send either the corrected IPN as "body" or the fields to replace as "overrides".')]);
  }
  const field = given[0] as 'body' | 'overrides';
  const value = body[field];
  if (!isJsonObject(value) || (field === 'overrides' && Object.keys(value).length === 0)) {
    throw new RequestValidationError([problem(field, 'a non-empty JSON object', `${field} must be a non-empty JSON object.`)]);
  }
  return { correction: field === 'body' ? { kind: 'body', body: value } : { kind: 'overrides', overrides: value }, note };
}

export function quarantineView(row: QuarantinedIpn, withBodies = false) {
  return {
    quarantine_id: row.quarantine_id,
    state: row.state,
    payment_id: row.payment_id,
    reason: { field: row.reason_field, rule: row.reason_rule },
    problems: row.problems,
    times_received: row.times_received,
    first_received_at: row.first_received_at.toISOString(),
    last_received_at: row.last_received_at.toISOString(),
    correlation_id: row.correlation_id,
    resolved_by: row.resolved_by,
    resolved_at: row.resolved_at?.toISOString() ?? null,
    resolution_note: row.resolution_note,
    reinject_outcome: row.reinject_outcome,
    reinjected_payment_id: row.reinjected_payment_id,
    ...(withBodies ? { body: row.body, reinjected_body: row.reinjected_body } : {}),
  };
}

/** Domain errors of the quarantine as HTTP answers; anything else goes to the shared mapping. */
function asRejection(error: unknown): unknown {
  if (error instanceof QuarantineNotFoundError) {
    return rejection(404, 'quarantine_not_found', 'id', 'an existing quarantine id', error.message);
  }
  if (error instanceof QuarantineResolvedError) {
    return rejection(409, 'quarantine_resolved', 'id', 'a held quarantined IPN', error.message);
  }
  if (error instanceof ConflictingPaymentError) {
    return rejection(409, 'conflicting_payment', 'payment_id', 'same payment, same amounts', error.message);
  }
  return error;
}

export function mountQuarantineRoutes(app: Express, options: QuarantineRoutesOptions): void {
  const { quarantine } = options;
  const jsonBody: RequestHandler[] = [
    requireJsonContentType('Send the body as application/json.'),
    express.raw({ type: () => true, limit: options.bodyLimitBytes }),
  ];
  const correlationIdOf = (response: Response): string => String(response.locals['correlationId']);
  const handle =
    (handler: (request: Request, response: Response) => Promise<void>) =>
    async (request: Request, response: Response): Promise<void> => {
      try {
        await handler(request, response);
      } catch (error) {
        throw asRejection(error);
      }
    };

  app.get(
    '/api/quarantine',
    handle(async (request, response) => {
      const rows = await quarantine.list(parseListQuery(request));
      response.json({ quarantined: rows.map((row) => quarantineView(row)) });
    }),
  );

  app.get(
    '/api/quarantine/:id',
    handle(async (request, response) => {
      const row = await quarantine.show(parseQuarantineId(String(request.params['id'])));
      response.json({ quarantined: quarantineView(row, true) });
    }),
  );

  app.post(
    '/api/quarantine/:id/reinject',
    ...jsonBody,
    handle(async (request, response) => {
      const quarantineId = parseQuarantineId(String(request.params['id']));
      const { actor, note: headerNote } = options.actorOf(request, response);
      const { correction, note } = parseReinjectRequest(parseBoundedJsonBody(request.body, ipnJsonShapeLimits));
      const { outcome, row } = await quarantine.reinject(quarantineId, { correction, actor, note: note ?? headerNote, correlationId: correlationIdOf(response) });
      response.json({ outcome: outcome.kind, payment_id: outcome.paymentId, quarantined: quarantineView(row) });
    }),
  );

  app.post(
    '/api/quarantine/:id/dismiss',
    ...jsonBody,
    handle(async (request, response) => {
      const quarantineId = parseQuarantineId(String(request.params['id']));
      const { actor } = options.actorOf(request, response);
      const body = parseBoundedJsonBody(request.body, ipnJsonShapeLimits);
      if (!isJsonObject(body)) throw new RequestValidationError([problem('body', 'a JSON object', 'The request body must be a JSON object.')]);
      const unknown = unknownFieldProblems(body, ['reason']);
      if (unknown.length > 0) throw new RequestValidationError(unknown);
      const reason = parseDismissReason(body['reason']);
      const row = await quarantine.dismiss(quarantineId, { actor, reason, correlationId: correlationIdOf(response) });
      response.json({ outcome: 'dismissed', quarantined: quarantineView(row) });
    }),
  );
}
