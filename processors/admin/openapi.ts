// The OpenAPI 3.1 document of the admin API, built from the zod schemas the routes parse and answer
// with (api-schemas.ts) by zod's own JSON Schema output (draft 2020-12, OpenAPI 3.1's dialect).
// Served at GET /api/openapi.json without a token (it describes routes, holds no data). The routes
// that predate it are listed with their parameters and their error bodies; their success bodies
// are described as objects only, until their views get zod schemas too (docs/http-api.md says so).
import { z } from 'zod/v4';
import {
  alertListPage,
  alertListQuery,
  auditListPage,
  auditListQuery,
  clientListPage,
  clientListQuery,
  consumerGroupListPage,
  consumerGroupListQuery,
  conversionBatchListPage,
  conversionBatchListQuery,
  deadLetterListPage,
  deadLetterListQuery,
  deadLetterRecordPage,
  deadLetterRecordsQuery,
  offsetResetPlan,
  offsetResetRequest,
  overviewBody,
  replayAccepted,
  replayRequest,
  replayView,
  errorBody,
  loginRequest,
  payoutBatchListPage,
  payoutBatchListQuery,
  sessionBody,
  statementBody,
  statementQuery,
} from './api-schemas.ts';
import { statementCsvColumns } from './statement.ts';

type JsonSchema = Record<string, unknown>;

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  // The dialect is the document's (jsonSchemaDialect), not repeated in every schema.
  const converted: JsonSchema = { ...(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'throw' }) as JsonSchema) };
  delete converted['$schema'];
  return converted;
}

interface OperationSpec {
  readonly method: 'get' | 'put' | 'post' | 'delete';
  /** OpenAPI form: /api/clients/{clientId}. */
  readonly path: string;
  readonly summary: string;
  readonly query?: z.ZodObject;
  /** Status → the body's zod schema, any object, an event stream, or no body at all (`none`, a 204). */
  readonly ok: { readonly status: number; readonly schema: z.ZodType | 'object' | 'none' | 'event-stream'; readonly csv?: boolean; readonly alsoStatus?: number };
  readonly errors: readonly number[];
  /** true: some JSON object; a zod schema: exactly that. */
  readonly requestBody?: boolean | z.ZodType;
  readonly public?: boolean;
}

const reads = [400, 401, 404, 422, 429];
const writes = [400, 401, 403, 404, 409, 413, 415, 422, 429];

const operations: readonly OperationSpec[] = [
  { method: 'get', path: '/api/openapi.json', summary: 'This document', ok: { status: 200, schema: 'object' }, errors: [429], public: true },
  { method: 'get', path: '/api/clients', summary: 'Clients by id, with unpaid amount, state, reason and last payout', query: clientListQuery, ok: { status: 200, schema: clientListPage }, errors: [400, 401, 429] },
  { method: 'get', path: '/api/payout-batches', summary: 'Payout batches, newest first', query: payoutBatchListQuery, ok: { status: 200, schema: payoutBatchListPage }, errors: [400, 401, 429] },
  { method: 'get', path: '/api/conversion-batches', summary: 'Conversion batches, newest first', query: conversionBatchListQuery, ok: { status: 200, schema: conversionBatchListPage }, errors: [400, 401, 429] },
  { method: 'get', path: '/api/alerts', summary: "The liveness check's findings, newest first", query: alertListQuery, ok: { status: 200, schema: alertListPage }, errors: [400, 401, 429] },
  { method: 'get', path: '/api/consumer-groups', summary: 'Kafka consumer groups with lag per partition', query: consumerGroupListQuery, ok: { status: 200, schema: consumerGroupListPage }, errors: [400, 401, 429] },
  {
    method: 'post',
    path: '/api/session',
    summary: 'Log in to the console with an admin token: the session body and the pp_session cookie (HttpOnly, SameSite=Strict)',
    ok: { status: 200, schema: sessionBody },
    errors: [400, 401, 413, 415, 429],
    requestBody: loginRequest,
    public: true,
  },
  { method: 'get', path: '/api/session', summary: 'The session of the pp_session cookie, with its csrf_token', ok: { status: 200, schema: sessionBody }, errors: [401, 429] },
  { method: 'delete', path: '/api/session', summary: 'Log out: revoke the session and clear the cookie (X-CSRF-Token required)', ok: { status: 204, schema: 'none' }, errors: [401, 403, 429] },
  { method: 'get', path: '/api/audit', summary: 'Every /api request other than GET/HEAD, allowed or refused, newest first', query: auditListQuery, ok: { status: 200, schema: auditListPage }, errors: [400, 401, 429] },
  { method: 'get', path: '/api/dead-letters', summary: "Each dead-letter topic's depth and what replay has not moved back", query: deadLetterListQuery, ok: { status: 200, schema: deadLetterListPage }, errors: [400, 401, 429] },
  {
    method: 'get',
    path: '/api/clients/{clientId}/statement',
    summary: "A client's statement for one payout or a date range (JSON or CSV)",
    query: statementQuery,
    ok: { status: 200, schema: statementBody, csv: true },
    errors: [400, 401, 404, 422, 429],
  },
  // The console's live data and operations (live-routes.ts).
  { method: 'get', path: '/api/overview', summary: "The operator's snapshot: micro-batch, work in flight, volume, alerts, lag, dead letters, host wallet", ok: { status: 200, schema: overviewBody }, errors: [401, 429] },
  {
    method: 'get',
    path: '/api/events',
    summary: 'Server-sent events: `overview` (the GET /api/overview body) at connect and on change, `replay` (a replay\'s progress), `: keep-alive` every 15 s',
    ok: { status: 200, schema: 'event-stream' },
    errors: [401, 429],
  },
  {
    method: 'get',
    path: '/api/dead-letters/{topic}/records',
    summary: "A dead-letter topic's records, oldest first, decoded through the schema registry",
    query: deadLetterRecordsQuery,
    ok: { status: 200, schema: deadLetterRecordPage },
    errors: [400, 401, 404, 429],
  },
  {
    method: 'post',
    path: '/api/dead-letters/{topic}/replay',
    summary: 'Replay selected dead letters, or all of them, onto their topic (202; progress at GET /api/replays/{id} and as `replay` events)',
    ok: { status: 202, schema: replayAccepted },
    errors: [400, 401, 404, 409, 413, 415, 429],
    requestBody: replayRequest,
  },
  { method: 'get', path: '/api/replays/{id}', summary: "A replay's progress (replays are kept in memory by the admin process that started them)", ok: { status: 200, schema: replayView }, errors: [401, 404, 429] },
  {
    method: 'post',
    path: '/api/consumer-groups/{group}/offset-reset',
    summary: "Reset a stopped group's offsets on one topic: a dry run shows the plan and its confirm_token, which applies it",
    ok: { status: 200, schema: offsetResetPlan },
    errors: [400, 401, 404, 409, 413, 415, 429],
    requestBody: offsetResetRequest,
  },
  // Routes that predate the document: parameters and errors described, success bodies as objects.
  { method: 'put', path: '/api/clients/{clientId}', summary: "Register or change a client's payout config (201 created, 200 updated or unchanged)", ok: { status: 200, alsoStatus: 201, schema: 'object' }, errors: writes, requestBody: true },
  { method: 'get', path: '/api/clients/{clientId}', summary: 'The config in force', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'get', path: '/api/clients/{clientId}/history', summary: 'Every accepted change', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'delete', path: '/api/clients/{clientId}/pending-wallet', summary: 'Cancel a destination change in its cooldown', ok: { status: 200, schema: 'object' }, errors: writes },
  { method: 'get', path: '/api/clients/{clientId}/balance', summary: 'Every unpaid group with its state and reason', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'post', path: '/api/clients/{clientId}/payouts', summary: "Pay the client's free credits now", ok: { status: 202, schema: 'object' }, errors: writes },
  { method: 'get', path: '/api/config/micro-batch-threshold', summary: 'The runtime micro-batch threshold', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'put', path: '/api/config/micro-batch-threshold', summary: 'Change the runtime micro-batch threshold', ok: { status: 200, schema: 'object' }, errors: writes, requestBody: true },
  { method: 'get', path: '/api/config/audit', summary: 'Audit trail of runtime settings', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'get', path: '/api/quarantine', summary: 'Quarantined IPNs', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'get', path: '/api/quarantine/{id}', summary: 'One quarantined IPN', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'post', path: '/api/quarantine/{id}/reinject', summary: 'Reinject a corrected IPN', ok: { status: 200, schema: 'object' }, errors: writes, requestBody: true },
  { method: 'post', path: '/api/quarantine/{id}/dismiss', summary: 'Dismiss a quarantined IPN', ok: { status: 200, schema: 'object' }, errors: writes, requestBody: true },
  { method: 'get', path: '/api/payout-requests/{requestId}', summary: 'What became of a payout request', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'get', path: '/api/payout-batches/{batchId}', summary: "A payout's lineage", ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'post', path: '/api/payout-batches/{batchId}/retry', summary: 'Retry a failed payout', ok: { status: 202, schema: 'object' }, errors: writes },
  { method: 'get', path: '/api/payout-retry-requests/{requestId}', summary: 'What settlement did with a retry request', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'get', path: '/api/conversion-recoveries', summary: 'Conversions that failed after their pay-in', ok: { status: 200, schema: 'object' }, errors: reads },
  { method: 'post', path: '/api/conversion-batches/{batchId}/recovery', summary: 'Resolve a failed conversion', ok: { status: 200, schema: 'object' }, errors: writes, requestBody: true },
  { method: 'get', path: '/api/reconciliation', summary: 'Invariants and liveness findings', ok: { status: 200, schema: 'object' }, errors: [401, 429] },
];

const errorRef = { $ref: '#/components/schemas/Error' };
const statusText: Record<number, string> = {
  400: 'A malformed request or query parameter (field and rule named)',
  401: 'No or a wrong bearer token, or no live console session',
  403: 'A cookie request without its X-CSRF-Token, or a viewer acting (field role, rule operator)',
  404: 'Unknown resource',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  415: 'Not application/json',
  422: 'A value breaks a rule (field and rule named)',
  429: 'Rate limited (Retry-After)',
  503: 'A dependency is down (Retry-After)',
};

function parametersOf(operation: OperationSpec): JsonSchema[] {
  const path = [...operation.path.matchAll(/\{([A-Za-z]+)\}/g)].map((match) => ({ name: match[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (operation.query === undefined) return path;
  const schema = jsonSchemaOf(operation.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  const query = Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    ...(typeof property['description'] === 'string' ? { description: property['description'] } : {}),
    schema: property,
  }));
  return [...path, ...query];
}

function operationObject(operation: OperationSpec): JsonSchema {
  const { schema } = operation.ok;
  const okSchema = schema === 'object' || schema === 'none' || schema === 'event-stream' ? { type: 'object' } : jsonSchemaOf(schema, 'output');
  const content: JsonSchema =
    schema === 'event-stream'
      ? { 'text/event-stream': { schema: { type: 'string', description: 'event: overview|replay, data: one line of JSON' } } }
      : { 'application/json': { schema: okSchema } };
  if (operation.ok.csv === true) content['text/csv'] = { schema: { type: 'string', description: `RFC 4180, header line: ${statementCsvColumns.join(',')}` } };
  const responses: JsonSchema = {
    [String(operation.ok.status)]:
      schema === 'none' ? { description: 'Success, no body' } : { description: schema === 'object' ? 'Success (body not yet described field by field)' : 'Success', content },
  };
  if (operation.ok.alsoStatus !== undefined) responses[String(operation.ok.alsoStatus)] = responses[String(operation.ok.status)];
  for (const status of [...operation.errors, 503]) responses[String(status)] = { description: statusText[status] ?? 'Error', content: { 'application/json': { schema: errorRef } } };
  return {
    operationId: `${operation.method}${operation.path.replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? '').toUpperCase())}`,
    summary: operation.summary,
    ...(operation.public === true ? { security: [] } : {}),
    parameters: parametersOf(operation),
    ...(operation.requestBody === undefined || operation.requestBody === false
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: operation.requestBody === true ? { type: 'object' } : jsonSchemaOf(operation.requestBody, 'input') } } } }),
    responses,
  };
}

export function buildOpenApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const operation of operations) {
    paths[operation.path] = { ...paths[operation.path], [operation.method]: operationObject(operation) };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'payout-pipeline admin API', version: '1', description: 'See docs/http-api.md. Money is always a decimal string; times are ISO 8601 in UTC.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    // Either scheme authenticates a request; with the cookie, a request other than GET/HEAD also
    // sends X-CSRF-Token (the csrf_token of the session body).
    security: [{ adminBearer: [] }, { consoleSession: [] }],
    components: {
      securitySchemes: {
        adminBearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, ADMIN_VIEWER_TOKEN or one of ADMIN_TOKENS' },
        consoleSession: { type: 'apiKey', in: 'cookie', name: 'pp_session', description: 'The cookie of POST /api/session; actions also send X-CSRF-Token' },
      },
      schemas: { Error: jsonSchemaOf(errorBody, 'output') },
    },
    paths,
  };
}
