// The HTTP shell of the webhook: reads the raw body, bounds its shape, checks the signature,
// validates, and hands the notification to the intake. Every rejection is a 4xx JSON body naming
// the field and rule; a dependency that is down is a 503 with Retry-After; only a bug is a 500.
// A correctly signed IPN that fails validation is not rejected but quarantined (202): NOWPayments
// says money arrived, so it is kept for an operator, and answering 2xx stops its retries of a body
// that can never pass.
//
// The IPN route (POST /webhooks/nowpayments) is served by a plain node:http request listener placed
// in front of express; every other request goes to the express app unchanged. Express's router,
// request/response decoration and res.json cost more CPU per IPN than the IPN's own checks
// (bench/README.md, webhook profiles). The route keeps express's behaviour piece by piece: the
// same rate-limit counter, express's own content-type test and body parser, and the error answers
// of core/http/http-errors.ts.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express from 'express';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { mountOperationsRoutes, type MetricsSource, type ReadinessProbe } from '../../core/http/operations-routes.ts';
import {
  answerError,
  hasJsonContentType,
  mountErrorHandlers,
  rejection,
  sendJson,
  toHttpError,
  unsupportedMediaType,
} from '../../core/http/http-errors.ts';
import { ValidationError } from '../../core/errors.ts';
import { createRequestRateLimiter } from '../../core/http/rate-limit.ts';
import { canonicalIpnJson, isValidIpnSignature } from './ipn-signature.ts';
import { IpnValidationError, validateIpn, type IpnLimits, type ValidationProblem } from './ipn-notification.ts';
import { ConflictingPaymentError, type PaymentIntake } from './payment-intake.ts';
import { ipnJsonShapeLimits, parseBoundedJsonBody } from './json-limits.ts';
import { paymentIdHintOf, type QuarantineEntry, type QuarantineReceipt } from './ipn-quarantine.ts';

export const ipnPath = '/webhooks/nowpayments';
export const signatureHeader = 'x-nowpayments-sig';
export const correlationIdRequestHeader = 'x-correlation-id';

export interface WebhookAppOptions {
  ipnSecret: string;
  bodyLimitBytes: number;
  limits: IpnLimits;
  intake: PaymentIntake;
  quarantine: {
    hold(entry: QuarantineEntry): Promise<QuarantineReceipt>;
    countHeld(): Promise<number>;
  };
  now: () => Date;
  metrics: MetricsRegistry;
  probes: Readonly<Record<string, ReadinessProbe>>;
  retryAfterSeconds: number;
  log: Logger;
  newCorrelationId: () => string;
  isAcceptingWork: () => boolean;
  /** Per source, on the IPN route (WEBHOOK_RATE_LIMIT_PER_MINUTE). */
  rateLimitPerMinute: number;
  /** False when /metrics is served on WEBHOOK_METRICS_PORT instead of the public port. */
  serveMetrics?: boolean;
  /** What /metrics serves when not `metrics` alone: a worker's answers for all workers. */
  metricsSource?: MetricsSource;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** express.raw as body-parser builds it: it reads only node's request (headers and stream), never express's additions. */
type NodeMiddleware = (request: IncomingMessage, response: ServerResponse, next: (error?: Error) => void) => void;

/**
 * The requests express routes to `app.post(ipnPath)`: POST, its path matched without regard to
 * case and with an optional trailing slash (express's defaults), any query. Anything else (other
 * methods, sub-paths, absolute-form targets) goes to express, which answers it as before.
 */
function isIpnRequest(request: IncomingMessage): boolean {
  if (request.method !== 'POST') return false;
  const url = request.url ?? '';
  const queryAt = url.indexOf('?');
  const path = (queryAt === -1 ? url : url.slice(0, queryAt)).toLowerCase();
  return path === ipnPath || path === `${ipnPath}/`;
}

export function createWebhookApp(options: WebhookAppOptions): RequestListener {
  const { log } = options;
  // Both domain errors of an IPN (invalid, conflicting) are quarantined by the handler, not answered as errors.
  const errorOptions = { retryAfterSeconds: options.retryAfterSeconds };

  const outcomes = new Counter({
    name: 'webhook_ipn_total',
    help: 'IPN requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [options.metrics],
  });
  const duration = new Histogram({
    name: 'webhook_ipn_duration_seconds',
    help: 'Time to answer an IPN, including the commit of its payment and outbox record',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [options.metrics],
  });
  const quarantinedTotal = new Counter({
    name: 'webhook_quarantined_ipns_total',
    help: 'Correctly signed IPNs that failed validation and were quarantined for an operator, by the field that failed',
    labelNames: ['field'] as const,
    registers: [options.metrics],
  });
  new Gauge({
    name: 'webhook_quarantine_held_ipns',
    help: 'Quarantined IPNs still held (neither reinjected nor dismissed), read from the database at each scrape',
    registers: [options.metrics],
    // Every worker reads the same table: summing them over the workers would count each IPN once per worker.
    aggregator: 'max',
    async collect() {
      // A database outage must not break /metrics: the last value stays and /ready reports the outage.
      try {
        this.set(await options.quarantine.countHeld());
      } catch (error) {
        log.warn({ err: error }, 'could not count held quarantined IPNs');
      }
    },
  });

  /** Keeps a signed IPN that cannot be accepted, raises the alert the first time, answers 202. */
  async function quarantine(rawBody: string, body: unknown, problems: readonly ValidationProblem[], correlationId: string) {
    const entry: QuarantineEntry = {
      body: rawBody,
      canonicalText: canonicalIpnJson(body),
      paymentId: paymentIdHintOf(body),
      problems,
      correlationId,
      receivedAt: options.now(),
    };
    const receipt = await options.quarantine.hold(entry);
    const reason = problems[0] ?? { field: 'body', rule: 'must be a valid IPN' };
    quarantinedTotal.inc({ field: reason.field });
    const details = { quarantineId: receipt.quarantineId, paymentId: entry.paymentId, reason, timesReceived: receipt.timesReceived, state: receipt.state, correlationId };
    if (receipt.isNew) log.error({ ...details, alert: true }, 'signed IPN failed validation: quarantined for an operator (GET /api/quarantine)');
    else log.warn(details, 'quarantined IPN received again');
    return {
      status: 'quarantined',
      quarantineId: receipt.quarantineId,
      paymentId: entry.paymentId,
      state: receipt.state,
      timesReceived: receipt.timesReceived,
      reason,
      problems,
      correlationId,
    };
  }

  // One counter for the route here and for what express still routes under the same path (other
  // methods, sub-paths), as the one middleware on `app.use(ipnPath)` counted them before.
  const rateLimit = createRequestRateLimiter({ requestsPerMinute: options.rateLimitPerMinute });
  const readRawBody = express.raw({ type: () => true, limit: options.bodyLimitBytes }) as unknown as NodeMiddleware;
  // Errors answered before the handler runs (rate limit, content type, body-parser's size limit, bad
  // encodings, aborted uploads): counted by code only, as express's error handlers counted them.
  const earlyErrorOptions = { ...errorOptions, onError: (body: { code: string }) => outcomes.inc({ outcome: body.code }) };

  function bodyOf(request: IncomingMessage, response: ServerResponse): Promise<unknown> {
    return new Promise((resolve, reject) => {
      readRawBody(request, response, (error) => {
        if (error === undefined) resolve(Reflect.get(request, 'body'));
        else reject(error);
      });
    });
  }

  /** The IPN route once its rate limit let it through: content type, body, then the handler. */
  async function serveCounted(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!hasJsonContentType(request)) {
      answerError(unsupportedMediaType('Send the IPN as application/json.'), earlyErrorOptions, response);
      return;
    }
    let body: unknown;
    try {
      body = await bodyOf(request, response);
    } catch (error) {
      answerError(error, earlyErrorOptions, response);
      return;
    }
    await handleIpn(request, response, body);
  }

  async function serveIpn(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const refused = rateLimit.check(request.socket.remoteAddress, response);
    if (refused !== undefined) {
      answerError(refused, earlyErrorOptions, response);
      return;
    }
    await serveCounted(request, response);
  }

  async function handleIpn(request: IncomingMessage, response: ServerResponse, requestBody: unknown): Promise<void> {
    const stopTimer = duration.startTimer();
    const headerCorrelationId = headerOf(request, correlationIdRequestHeader);
    const correlationId =
      headerCorrelationId !== undefined && correlationIdPattern.test(headerCorrelationId)
        ? headerCorrelationId
        : options.newCorrelationId();
    response.setHeader(correlationIdRequestHeader, correlationId);
    const finish = (outcome: string, status: number, body: unknown): void => {
      outcomes.inc({ outcome });
      stopTimer({ outcome });
      sendJson(response, status, body);
    };

    try {
      const signature = headerOf(request, signatureHeader);
      if (signature === undefined || signature === '') {
        throw rejection(401, 'missing_signature', signatureHeader, 'is required', `The ${signatureHeader} header is missing.`);
      }
      const rawBody = Buffer.isBuffer(requestBody) ? requestBody.toString('utf8') : '';
      const body = parseBoundedJsonBody(requestBody, ipnJsonShapeLimits);
      if (!isValidIpnSignature(body, signature, options.ipnSecret)) {
        throw rejection(
          401,
          'invalid_signature',
          signatureHeader,
          'must be the hex HMAC-SHA512 of the key-sorted body',
          'The IPN signature does not match the body.',
        );
      }

      let notification;
      try {
        notification = validateIpn(body, options.limits, options.now());
      } catch (error) {
        if (!(error instanceof IpnValidationError)) throw error;
        finish('quarantined', 202, await quarantine(rawBody, body, error.problems, correlationId));
        return;
      }
      let outcome;
      try {
        outcome = await options.intake.accept({ notification, rawBody, correlationId });
      } catch (error) {
        // Validation guarantees every accepted field encodes; should the record still be refused,
        // the signed payment is kept rather than lost, and the encoder's text is logged, not sent.
        // A signed IPN whose payment id we already hold with other amounts is still the provider's
        // word about money: an operator decides which is right, so it is kept, not refused.
        if (error instanceof ConflictingPaymentError) {
          finish('quarantined', 202, await quarantine(rawBody, body, [{ field: 'payment_id', rule: 'same payment, same amounts' }], correlationId));
          return;
        }
        if (!(error instanceof ValidationError)) throw error;
        log.error({ err: error, correlationId }, 'a validated IPN could not be encoded: validation and schema disagree');
        finish('quarantined', 202, await quarantine(rawBody, body, [{ field: 'body', rule: 'must encode as a PaymentReceived record' }], correlationId));
        return;
      }
      switch (outcome.kind) {
        case 'produced':
          finish('produced', 202, { status: 'accepted', paymentId: outcome.paymentId, routable: outcome.routable, correlationId });
          return;
        case 'duplicate':
          finish('duplicate', 200, { status: 'duplicate', paymentId: outcome.paymentId, correlationId });
          return;
        case 'recorded':
          finish('recorded', 200, {
            status: 'recorded',
            paymentId: outcome.paymentId,
            paymentStatus: outcome.paymentStatus,
            correlationId,
          });
          return;
      }
    } catch (error) {
      const { status, body } = toHttpError(error, errorOptions, response);
      if (status >= 500) log.error({ err: error, correlationId }, 'IPN not accepted');
      else log.warn({ correlationId, status, error: body }, 'IPN rejected');
      finish(body.code, status, { error: body });
    }
  }

  /** A bug that escaped the handler is still answered (500), as express 5 passes a rejected handler's error to its error handlers. */
  function serveSafely(serve: Promise<void>, response: ServerResponse): void {
    serve.catch((error: unknown) => answerError(error, earlyErrorOptions, response));
  }

  const app = express();
  app.disable('x-powered-by');
  mountOperationsRoutes(app, {
    metrics: options.metricsSource ?? options.metrics,
    probes: options.probes,
    isAcceptingWork: options.isAcceptingWork,
    ...(options.serveMetrics === undefined ? {} : { serveMetrics: options.serveMetrics }),
  });
  app.use(ipnPath, rateLimit.middleware);
  app.post(ipnPath, (request, response) => serveSafely(serveCounted(request, response), response));

  // Errors raised before our handler ran: body-parser's size limit, bad encodings, aborted uploads.
  mountErrorHandlers(app, earlyErrorOptions);

  return (request, response) => {
    if (isIpnRequest(request)) serveSafely(serveIpn(request, response), response);
    else app(request, response);
  };
}

/** A request header as express's `req.get` reads it (node joins repeated headers with ", "). */
function headerOf(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
