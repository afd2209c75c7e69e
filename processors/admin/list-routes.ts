// The admin's list endpoints, per-client statements and the OpenAPI document (behind the same rate
// limit, bearer token and error mapping as the rest of the admin API; the document needs no token):
//   GET /api/openapi.json                       the OpenAPI 3.1 document of /api (openapi.ts)
//   GET /api/clients?q=&strategy=               clients by id, with unpaid amount, state, reason, last payout
//   GET /api/payout-batches?state=&client_id=&from=&to=     newest first
//   GET /api/conversion-batches?state=&from=&to=            newest first
//   GET /api/alerts?status=open|all             the liveness check's findings, newest first
//   GET /api/consumer-groups                    Kafka consumer groups with lag per partition
//   GET /api/dead-letters                       each dead-letter topic's depth, and what replay has not moved back
//   GET /api/clients/:clientId/statement?payout_batch_id=… | ?from=…&to=…  [&format=json|csv]
// Every list takes `limit` (1..200, default 50) and `cursor` (the previous page's next_cursor) and
// answers {items, next_cursor}; a bad query parameter is 400 naming it.
import type { Express, Request, Response } from 'express';
import type { DatabasePool } from 'slonik';
import { rejection } from '../../core/http/http-errors.ts';
import { parseClientId } from '../../core/http/request-validation.ts';
import type { SharedKafkaAdmin } from './shared-kafka-admin.ts';
import { decodeCursor, isoInstantPattern, pageOf, parsePageLimit, type SortKey } from './api-pagination.ts';
import {
  alertListQuery,
  clientListQuery,
  consumerGroupListQuery,
  conversionBatchListQuery,
  deadLetterListQuery,
  parseQuery,
  payoutBatchListQuery,
  statementQuery,
} from './api-schemas.ts';
import { readConsumerGroups } from './consumer-groups.ts';
import { readDeadLetterDepths } from './dead-letters.ts';
import { listAlerts, listClients, listConversionBatches, listPayoutBatches } from './list-store.ts';
import { alertListItemOf, clientListItemOf, conversionBatchListItemOf, payoutBatchListItemOf } from './list-views.ts';
import { buildStatement, statementCsv } from './statement.ts';
import { readStatement, statementRowsMax } from './statement-store.ts';

export interface ListRoutesOptions {
  pool: DatabasePool;
  /** The process's one Kafka admin connection, for /api/consumer-groups and /api/dead-letters; absent, they answer 503. */
  kafkaAdmin?: SharedKafkaAdmin;
  now: () => Date;
}

const batchIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const clientIdPattern = /^-?[0-9]{1,14}$/;
const groupIdPattern = /^.{1,255}$/s;

function cursorOf(text: string | undefined, patterns: readonly RegExp[]): SortKey | null {
  return text === undefined ? null : decodeCursor(text, patterns);
}

function dateOf(text: string | undefined): Date | undefined {
  return text === undefined ? undefined : new Date(text);
}

function checkRange(from: Date | undefined, to: Date | undefined): void {
  if (from !== undefined && to !== undefined && !(from < to)) throw rejection(400, 'invalid_query', 'to', 'after from', 'to must be after from.');
}

export function mountListRoutes(app: Express, options: ListRoutesOptions): void {
  const { pool } = options;

  app.get('/api/clients', async (request: Request, response: Response) => {
    const query = parseQuery(clientListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const rows = await listClients(pool, {
      ...(query.q === undefined ? {} : { prefix: query.q }),
      ...(query.strategy === undefined ? {} : { strategy: query.strategy }),
      after: cursorOf(query.cursor, [clientIdPattern]),
      limit,
    });
    response.json(pageOf(rows, limit, (row) => [row.client_id], clientListItemOf));
  });

  app.get('/api/payout-batches', async (request: Request, response: Response) => {
    const query = parseQuery(payoutBatchListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const from = dateOf(query.from);
    const to = dateOf(query.to);
    checkRange(from, to);
    const rows = await listPayoutBatches(pool, {
      ...(query.state === undefined ? {} : { state: query.state }),
      ...(query.client_id === undefined ? {} : { clientId: query.client_id }),
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      after: cursorOf(query.cursor, [isoInstantPattern, batchIdPattern]),
      limit,
    });
    response.json(pageOf(rows, limit, (row) => [row.sort_at, row.batch_id], payoutBatchListItemOf));
  });

  app.get('/api/conversion-batches', async (request: Request, response: Response) => {
    const query = parseQuery(conversionBatchListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const from = dateOf(query.from);
    const to = dateOf(query.to);
    checkRange(from, to);
    const rows = await listConversionBatches(pool, {
      ...(query.state === undefined ? {} : { state: query.state }),
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      after: cursorOf(query.cursor, [isoInstantPattern, batchIdPattern]),
      limit,
    });
    response.json(pageOf(rows, limit, (row) => [row.sort_at, row.batch_id], conversionBatchListItemOf));
  });

  app.get('/api/alerts', async (request: Request, response: Response) => {
    const query = parseQuery(alertListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const rows = await listAlerts(pool, { open: (query.status ?? 'open') === 'open', after: cursorOf(query.cursor, [isoInstantPattern, /^.{1,512}$/s]), limit });
    response.json(pageOf(rows, limit, (row) => [row.sort_at, row.finding_id], alertListItemOf));
  });

  app.get('/api/consumer-groups', async (request: Request, response: Response) => {
    const query = parseQuery(consumerGroupListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const after = cursorOf(query.cursor, [groupIdPattern]);
    if (options.kafkaAdmin === undefined) throw rejection(503, 'unavailable', 'kafka', 'a Kafka connection', 'This admin process has no Kafka connection.');
    const groups = await options.kafkaAdmin.use((admin) => readConsumerGroups(admin, { afterGroupId: after?.[0] ?? null, limit }));
    response.json(pageOf(groups, limit, (group) => [group.group_id], (group) => group));
  });

  app.get('/api/dead-letters', async (request: Request, response: Response) => {
    const query = parseQuery(deadLetterListQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const after = cursorOf(query.cursor, [/^[A-Za-z0-9._-]{1,249}$/]);
    if (options.kafkaAdmin === undefined) throw rejection(503, 'unavailable', 'kafka', 'a Kafka connection', 'This admin process has no Kafka connection.');
    const topics = await options.kafkaAdmin.use((admin) => readDeadLetterDepths(admin, pool, { afterTopic: after?.[0] ?? null, limit }));
    response.json(pageOf(topics, limit, (topic) => [topic.topic], (topic) => topic));
  });

  app.get('/api/clients/:clientId/statement', async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    const query = parseQuery(statementQuery, request.query);
    const from = dateOf(query.from);
    const to = dateOf(query.to);
    if (query.payout_batch_id !== undefined && (from !== undefined || to !== undefined)) {
      throw rejection(400, 'invalid_query', 'payout_batch_id', 'either payout_batch_id or from and to', 'Ask for one payout (payout_batch_id) or a date range (from, to), not both.');
    }
    if (query.payout_batch_id === undefined && (from === undefined || to === undefined)) {
      throw rejection(400, 'invalid_query', from === undefined ? 'from' : 'to', 'either payout_batch_id or from and to', 'Ask for one payout (payout_batch_id) or a date range (from and to).');
    }
    checkRange(from, to);
    const csv = query.format === 'csv' || (query.format === undefined && request.accepts(['application/json', 'text/csv']) === 'text/csv');
    const selection = query.payout_batch_id !== undefined ? { kind: 'payout' as const, batchId: query.payout_batch_id } : { kind: 'range' as const, from: from ?? new Date(0), to: to ?? new Date(0) };
    const read = await readStatement(pool, clientId, selection);
    switch (read.kind) {
      case 'client_not_found':
        throw rejection(404, 'client_not_found', 'clientId', 'a registered client', `Client ${clientId} is not registered.`);
      case 'payout_not_found':
        throw rejection(404, 'payout_batch_not_found', 'payout_batch_id', "a payout batch of this client", `Client ${clientId} has no payout batch ${query.payout_batch_id ?? ''}.`);
      case 'too_many_rows':
        throw rejection(422, 'statement_too_large', 'from', `at most ${statementRowsMax} payments per statement`, `More than ${statementRowsMax} payments: ask for a shorter date range.`);
      case 'rows': {
        const statement = buildStatement(
          clientId,
          { payoutBatchId: query.payout_batch_id ?? null, from: from?.toISOString() ?? null, to: to?.toISOString() ?? null },
          read.sources,
          options.now(),
        );
        if (!csv) {
          response.json(statement);
          return;
        }
        const name = `statement-${clientId}-${query.payout_batch_id ?? `${query.from ?? ''}_${query.to ?? ''}`}`.replace(/[^A-Za-z0-9._-]/g, '_');
        response.type('text/csv; charset=utf-8').set('content-disposition', `attachment; filename="${name}.csv"`).send(statementCsv(statement));
        return;
      }
    }
  });
}
