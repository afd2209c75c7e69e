// The HTTP shell of the admin API: authenticate, read and validate the body, call the service,
// answer. Validation and decisions live in the pure modules; this file only maps them onto HTTP.
// Every rejection is `{"error":{"code","message","field","rule"}}` (core/http/http-errors.ts).
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { Counter } from 'prom-client';
import type { DatabasePool } from 'slonik';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { mountOperationsRoutes, type ReadinessProbe } from '../../core/http/operations-routes.ts';
import { mountErrorHandlers, parseJsonBody, rejection, requireJsonContentType, type HttpError } from '../../core/http/http-errors.ts';
import { createRequestRateLimit } from '../../core/http/rate-limit.ts';
import { authenticatedOf, createAdminAuthentication, tokenNameOf, type AuthFailure } from './admin-auth.ts';
import { mountLoginRoute, mountSessionRoutes } from './access-routes.ts';
import { insertAuditEntry } from './audit-store.ts';
import { isReadMethod } from './console-session.ts';
import { findSession } from './session-store.ts';
import type { AdminTokenDigest } from './admin-tokens.ts';
import { parseClientConfigRequest, type ClientThresholdBounds } from './client-config.ts';
import type { ClientService } from './client-service.ts';
import { actorHeader, actorNoteHeader, parseClientId, parseRequestActor, problem, RequestValidationError, type RequestActor } from '../../core/http/request-validation.ts';
import { auditView, clientView, historyView, thresholdView } from './admin-views.ts';
import { pendingView } from './pending-change-view.ts';
import { loadClientHistory } from './client-store.ts';
import { parseMicroBatchThresholdRequest, type MicroBatchThresholdLimits } from './micro-batch-threshold.ts';
import { listConfigAudit, readMicroBatchThreshold, setMicroBatchThreshold } from './threshold-store.ts';
import type { LivenessRules } from '../../db/liveness.ts';
import { mountSettlementRoutes } from '../settlement/settlement-routes.ts';
import { mountQuarantineRoutes } from './quarantine-routes.ts';
import type { QuarantineService } from './quarantine-service.ts';
import type { SharedKafkaAdmin } from './shared-kafka-admin.ts';
import { mountListRoutes } from './list-routes.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { mountConsole, type ConsoleOptions } from './console-static.ts';
import { mountLiveRoutes, type LiveRoutesOptions } from './live-routes.ts';

export const correlationIdRequestHeader = 'x-correlation-id';

export interface AdminAppOptions {
  /** Every accepted token, by name (admin-tokens.ts). */
  adminTokens: readonly AdminTokenDigest[];
  /** Per source, on /api/* (checked before the token, so guessing tokens is limited too). */
  rateLimitPerMinute: number;
  /** CONSOLE_SESSION_TTL. */
  sessionTtlMs: number;
  /** CONSOLE_COOKIE_SECURE. */
  secureCookie: boolean;
  /** CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE: POST /api/session per source, on top of rateLimitPerMinute. */
  loginRateLimitPerMinute: number;
  /** Given every audit write in flight, so that shutdown can wait for them before the pool closes. */
  trackAuditWrite?: (write: Promise<void>) => void;
  pool: DatabasePool;
  clients: ClientService;
  thresholdBounds: ClientThresholdBounds;
  microBatchLimits: MicroBatchThresholdLimits;
  bodyLimitBytes: number;
  metrics: MetricsRegistry;
  probes: Readonly<Record<string, ReadinessProbe>>;
  retryAfterSeconds: number;
  log: Logger;
  now: () => Date;
  newCorrelationId: () => string;
  isAcceptingWork: () => boolean;
  /** PAYOUT_MAX_AGE, shown in the client balance. */
  payoutMaxAgeMs: number;
  /** Quarantined IPNs (/api/quarantine); absent, the routes are not mounted. */
  quarantine?: QuarantineService;
  /** For the findings of GET /api/reconciliation. */
  livenessRules: LivenessRules;
  /** The process's one Kafka admin connection (GET /api/consumer-groups, /api/dead-letters); absent, they answer 503. */
  kafkaAdmin?: SharedKafkaAdmin;
  /** The operator console at /console (console-static.ts). */
  console?: ConsoleOptions;
  /** The console's overview, events, dead-letter records, replays and offset resets; absent, not mounted. */
  live?: Omit<LiveRoutesOptions, 'pool' | 'log'>;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const auditLimitMax = 1_000;

function mapAdminError(error: unknown): HttpError | undefined {
  if (error instanceof RequestValidationError) {
    return {
      status: 422,
      body: {
        code: error.code,
        message: error.message,
        field: error.field,
        rule: error.rule,
        problems: error.problems.map(({ field, rule }) => ({ field, rule })),
      },
    };
  }
  return undefined;
}

function clientNotFound(clientId: string): Error {
  return rejection(404, 'client_not_found', 'clientId', 'a registered client', `Client ${clientId} is not registered.`);
}

function parseAuditLimit(text: unknown): number {
  if (text === undefined) return 100;
  if (typeof text !== 'string' || !/^[1-9]\d{0,3}$/.test(text) || Number(text) > auditLimitMax) {
    throw new RequestValidationError([problem('limit', `an integer from 1 to ${auditLimitMax}`, `limit must be an integer from 1 to ${auditLimitMax}.`)]);
  }
  return Number(text);
}

export function createAdminApp(options: AdminAppOptions): Express {
  const { log, clients } = options;
  const app = express();
  app.disable('x-powered-by');

  const requests = new Counter({
    name: 'admin_requests_total',
    help: 'Admin API answers by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [options.metrics],
  });
  const authFailures = new Counter({
    name: 'admin_auth_failures_total',
    help: 'Admin API requests refused by authentication: missing_token, invalid_token, invalid_session, csrf_token, forbidden_role, login_failed',
    labelNames: ['reason'] as const,
    registers: [options.metrics],
  });
  const changes = new Counter({
    name: 'admin_changes_total',
    help: 'Accepted admin changes by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [options.metrics],
  });

  mountOperationsRoutes(app, { metrics: options.metrics, probes: options.probes, isAcceptingWork: options.isAcceptingWork });

  app.use((request: Request, response: Response, next) => {
    const header = request.get(correlationIdRequestHeader);
    const correlationId = header !== undefined && correlationIdPattern.test(header) ? header : options.newCorrelationId();
    response.locals['correlationId'] = correlationId;
    response.set(correlationIdRequestHeader, correlationId);
    response.on('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
      requests.inc({ route: `${request.method} ${route}`, status: String(response.statusCode) });
      if (response.statusCode >= 400) log.warn({ correlationId, method: request.method, path: request.path, status: response.statusCode }, 'admin request rejected');
    });
    next();
  });
  // The console's files hold no data (every figure comes from /api with the session), so they need no token.
  mountConsole(app, options.console ?? { explorerTxUrl: null });
  app.use('/api', createRequestRateLimit({ requestsPerMinute: options.rateLimitPerMinute }));
  // The document describes routes and holds no data, so it needs no token (still rate-limited).
  const openApiDocument = buildOpenApiDocument();
  app.get('/api/openapi.json', (_request: Request, response: Response) => {
    response.json(openApiDocument);
  });
  const auditWriteFailures = new Counter({
    name: 'admin_audit_write_failures_total',
    help: 'Console audit rows that could not be written (the request was answered; see the error log)',
    registers: [options.metrics],
  });
  // The audit of every /api request other than GET/HEAD, allowed or refused. The row is written
  // when the answer is over ('close': sent, or the client went away first, recorded as 499),
  // because only then is the status known, refusals included (401, 403, 4xx of validation). A row
  // written before the handler could not say how the request ended, and one written inside each
  // route's transaction would vanish with a refused request's rollback and depend on every route
  // remembering it. The cost is that the row is not atomic with the action: a crash between the
  // action's commit and this insert loses the row. The changes that matter keep their own
  // transactional history beside it (client_config_history, config_audit), so this is the record
  // of who asked what, not the source of truth of what changed.
  app.use('/api', (request: Request, response: Response, next) => {
    if (isReadMethod(request.method)) {
      next();
      return;
    }
    const at = options.now();
    response.on('close', () => {
      const authenticated = authenticatedOf(response);
      const write = insertAuditEntry(options.pool, {
        at,
        actor: authenticated?.actor ?? null,
        role: authenticated?.role ?? null,
        method: request.method,
        path: request.originalUrl.split('?')[0] ?? request.path,
        status: response.headersSent ? response.statusCode : 499,
        correlationId: String(response.locals['correlationId']),
      }).catch((error: unknown) => {
        auditWriteFailures.inc();
        log.error({ err: error, method: request.method, path: request.path }, 'console audit row not written');
      });
      options.trackAuditWrite?.(write);
    });
    next();
  });
  const accessOptions = {
    pool: options.pool,
    digests: options.adminTokens,
    sessionTtlMs: options.sessionTtlMs,
    secureCookie: options.secureCookie,
    loginRateLimitPerMinute: options.loginRateLimitPerMinute,
    bodyLimitBytes: options.bodyLimitBytes,
    now: options.now,
    onFailure: (reason: AuthFailure) => authFailures.inc({ reason }),
  };
  mountLoginRoute(app, accessOptions);
  app.use(
    '/api',
    createAdminAuthentication({
      digests: options.adminTokens,
      findSession: (cookieValue) => findSession(options.pool, cookieValue, options.now()),
      onFailure: (reason) => authFailures.inc({ reason }),
      secureCookie: options.secureCookie,
    }),
  );
  mountSessionRoutes(app, accessOptions);

  const jsonBody: RequestHandler[] = [
    requireJsonContentType('Send the body as application/json.'),
    express.raw({ type: () => true, limit: options.bodyLimitBytes }),
  ];
  const correlationIdOf = (response: Response): string => String(response.locals['correlationId']);
  const actorOf = (request: Request, response: Response): RequestActor =>
    parseRequestActor(tokenNameOf(response), { actor: request.get(actorHeader), note: request.get(actorNoteHeader) });
  const contextOf = (request: Request, response: Response) => {
    const { actor, note } = actorOf(request, response);
    return { actor, actorNote: note, correlationId: correlationIdOf(response) };
  };

  app.put('/api/clients/:clientId', ...jsonBody, async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    const context = contextOf(request, response);
    const configRequest = parseClientConfigRequest(parseJsonBody(request.body), options.thresholdBounds);
    const outcome = await clients.put(clientId, configRequest, context);
    changes.inc({ kind: 'client_config', outcome: outcome.kind });
    log.info({ clientId, outcome: outcome.kind, revision: outcome.client.revision, actor: context.actor, correlationId: context.correlationId }, 'client config');
    response.status(outcome.kind === 'created' ? 201 : 200).json({ outcome: outcome.kind, client: clientView(outcome.client) });
  });

  app.get('/api/clients/:clientId', async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    const client = await clients.get(clientId);
    if (client === null) throw clientNotFound(clientId);
    response.json({ client: clientView(client) });
  });

  app.get('/api/clients/:clientId/history', async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    if ((await clients.get(clientId)) === null) throw clientNotFound(clientId);
    const history = await loadClientHistory(options.pool, clientId);
    response.json({ client_id: clientId, history: history.map(historyView) });
  });

  app.delete('/api/clients/:clientId/pending-wallet', async (request: Request, response: Response) => {
    const clientId = parseClientId(String(request.params['clientId']));
    const context = contextOf(request, response);
    const outcome = await clients.cancelPending(clientId, context);
    switch (outcome.kind) {
      case 'client_not_found':
        throw clientNotFound(clientId);
      case 'nothing_pending':
        throw rejection(404, 'no_pending_wallet_change', 'pending_wallet_address', 'a pending wallet change', `Client ${clientId} has no pending wallet change.`);
      case 'already_effective':
        throw rejection(
          409,
          'pending_wallet_change_effective',
          'pending_wallet_address',
          'cancellable only before pending_wallet_effective_at',
          `The wallet change of client ${clientId} has already taken effect; set the wallet again to change it back.`,
        );
      case 'cancelled':
        changes.inc({ kind: 'pending_wallet_cancel', outcome: 'cancelled' });
        log.info({ clientId, actor: context.actor, correlationId: context.correlationId }, 'pending wallet change cancelled');
        response.json({ outcome: 'cancelled', cancelled: pendingView(outcome.cancelled), client: clientView(outcome.client) });
        return;
    }
  });

  app.get('/api/config/micro-batch-threshold', async (_request: Request, response: Response) => {
    response.json(thresholdView(await readMicroBatchThreshold(options.pool, options.microBatchLimits)));
  });

  app.put('/api/config/micro-batch-threshold', ...jsonBody, async (request: Request, response: Response) => {
    const context = contextOf(request, response);
    const value = parseMicroBatchThresholdRequest(parseJsonBody(request.body), options.microBatchLimits);
    const outcome = await setMicroBatchThreshold({
      pool: options.pool,
      limits: options.microBatchLimits,
      value,
      changedBy: context.actor,
      actorNote: context.actorNote,
      now: options.now(),
      correlationId: context.correlationId,
    });
    changes.inc({ kind: 'micro_batch_threshold', outcome: outcome.kind });
    log.info({ value: value.toFixed(), outcome: outcome.kind, actor: context.actor, correlationId: context.correlationId }, 'micro-batch threshold');
    response.json({
      outcome: outcome.kind,
      ...thresholdView(outcome.state),
      change: outcome.kind === 'changed' ? auditView(outcome.change) : null,
    });
  });

  app.get('/api/config/audit', async (request: Request, response: Response) => {
    const limit = parseAuditLimit(request.query['limit']);
    const setting = request.query['setting'];
    if (setting !== undefined && (typeof setting !== 'string' || !/^[a-z0-9_]{1,64}$/.test(setting))) {
      throw new RequestValidationError([problem('setting', 'a setting name ([a-z0-9_]{1,64})', 'setting must be a setting name such as micro_batch_threshold_usd.')]);
    }
    const entries = await listConfigAudit(options.pool, setting === undefined ? { limit } : { setting, limit });
    response.json({ entries: entries.map(auditView) });
  });

  // Settlement's routes (balance, lineage, operator requests, reconciliation, conversion recovery):
  // settlement's module owns them and its tables; this process only serves them.
  mountSettlementRoutes(app, { pool: options.pool, log, now: options.now, newRequestId: options.newCorrelationId, payoutMaxAgeMs: options.payoutMaxAgeMs, actorOf, livenessRules: options.livenessRules, jsonBody });
  mountListRoutes(app, { pool: options.pool, now: options.now, ...(options.kafkaAdmin === undefined ? {} : { kafkaAdmin: options.kafkaAdmin }) });
  if (options.live !== undefined) mountLiveRoutes(app, { ...options.live, pool: options.pool, log }, { jsonBody, actorOf });
  if (options.quarantine !== undefined) mountQuarantineRoutes(app, { quarantine: options.quarantine, bodyLimitBytes: options.bodyLimitBytes, actorOf });

  mountErrorHandlers(app, {
    retryAfterSeconds: options.retryAfterSeconds,
    mapError: mapAdminError,
    onError: (_body, status, error) => {
      if (status >= 500) log.error({ err: error }, 'admin request failed');
    },
  });
  return app;
}
