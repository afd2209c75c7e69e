// The HTTP shell of the webhook: reads the raw body, checks the signature, validates, and hands
// the notification to the intake. Every rejection is a 4xx JSON body naming the field and rule;
// a dependency that is down is a 503 with Retry-After; only a bug is a 500.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { parse as parseLosslessJson } from 'lossless-json';
import { Counter, Histogram } from 'prom-client';
import { isRetriable, PipelineError } from '../../core/errors.ts';
import { classifyDatabaseError } from '../../db/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { mountOperationsRoutes, type ReadinessProbe } from '../../core/http/operations-routes.ts';
import { isValidIpnSignature } from './ipn-signature.ts';
import { IpnValidationError, validateIpn, type IpnLimits, type ValidationProblem } from './ipn-notification.ts';
import { ConflictingPaymentError, type PaymentIntake } from './payment-intake.ts';

export const ipnPath = '/webhooks/nowpayments';
export const signatureHeader = 'x-nowpayments-sig';
export const correlationIdRequestHeader = 'x-correlation-id';

export interface WebhookAppOptions {
  ipnSecret: string;
  bodyLimitBytes: number;
  limits: IpnLimits;
  intake: PaymentIntake;
  metrics: MetricsRegistry;
  probes: Readonly<Record<string, ReadinessProbe>>;
  retryAfterSeconds: number;
  log: Logger;
  newCorrelationId: () => string;
  isAcceptingWork: () => boolean;
}

interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  rule?: string;
  problems?: readonly ValidationProblem[];
}

class HttpRejection extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
  }
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

function rejection(status: number, code: string, field: string, rule: string, message: string): HttpRejection {
  return new HttpRejection(status, { code, message, field, rule });
}

export function createWebhookApp(options: WebhookAppOptions): Express {
  const { log } = options;
  const app = express();
  app.disable('x-powered-by');

  const outcomes = new Counter({
    name: 'webhook_ipn_total',
    help: 'IPN requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [options.metrics],
  });
  const duration = new Histogram({
    name: 'webhook_ipn_duration_seconds',
    help: 'Time to answer an IPN, including the broker acknowledgement',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [options.metrics],
  });

  mountOperationsRoutes(app, {
    metrics: options.metrics,
    probes: options.probes,
    isAcceptingWork: options.isAcceptingWork,
  });

  app.post(
    ipnPath,
    (request: Request, _response: Response, next: NextFunction) => {
      if (!request.is('application/json')) {
        next(rejection(415, 'unsupported_media_type', 'content-type', 'must be application/json', 'Send the IPN as application/json.'));
        return;
      }
      next();
    },
    express.raw({ type: () => true, limit: options.bodyLimitBytes }),
    async (request: Request, response: Response) => {
      const stopTimer = duration.startTimer();
      const headerCorrelationId = request.get(correlationIdRequestHeader);
      const correlationId =
        headerCorrelationId !== undefined && correlationIdPattern.test(headerCorrelationId)
          ? headerCorrelationId
          : options.newCorrelationId();
      response.set(correlationIdRequestHeader, correlationId);
      const finish = (outcome: string, status: number, body: unknown): void => {
        outcomes.inc({ outcome });
        stopTimer({ outcome });
        response.status(status).json(body);
      };

      try {
        const signature = request.get(signatureHeader);
        if (signature === undefined || signature === '') {
          throw rejection(401, 'missing_signature', signatureHeader, 'is required', `The ${signatureHeader} header is missing.`);
        }
        const rawBody = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '';
        let body: unknown;
        try {
          body = parseLosslessJson(rawBody);
        } catch (error) {
          throw rejection(400, 'malformed_json', 'body', 'must be valid JSON', `The body is not valid JSON: ${(error as Error).message}`);
        }
        if (!isValidIpnSignature(body, signature, options.ipnSecret)) {
          throw rejection(
            401,
            'invalid_signature',
            signatureHeader,
            'must be the hex HMAC-SHA512 of the key-sorted body',
            'The IPN signature does not match the body.',
          );
        }

        const notification = validateIpn(body, options.limits);
        const outcome = await options.intake.accept(notification, rawBody, correlationId);
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
        const { status, body } = toHttpError(error, options.retryAfterSeconds, response);
        if (status >= 500) log.error({ err: error, correlationId }, 'IPN not accepted');
        else log.warn({ correlationId, status, error: body }, 'IPN rejected');
        finish(body.code, status, { error: body });
      }
    },
  );

  // Errors raised before our handler ran: body-parser's size limit, bad encodings, aborted uploads.
  app.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
    if (response.headersSent) {
      next(error);
      return;
    }
    const { status, body } = toHttpError(error, options.retryAfterSeconds, response);
    outcomes.inc({ outcome: body.code });
    response.status(status).json({ error: body });
  });

  app.use((_request: Request, response: Response) => {
    response.status(404).json({ error: { code: 'not_found', message: 'No such endpoint.' } });
  });

  return app;
}

interface BodyParserError {
  status: number;
  type: string;
  message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && 'status' in error && 'type' in error;
}

function toHttpError(error: unknown, retryAfterSeconds: number, response: Response): { status: number; body: ErrorBody } {
  if (error instanceof HttpRejection) return { status: error.status, body: error.body };
  if (error instanceof IpnValidationError) {
    return {
      status: 422,
      body: { code: 'validation_failed', message: error.message, field: error.field, rule: error.rule, problems: error.problems },
    };
  }
  if (error instanceof ConflictingPaymentError) {
    return { status: 409, body: { code: 'conflicting_payment', message: error.message, field: 'payment_id', rule: 'same payment, same amounts' } };
  }
  if (isBodyParserError(error)) {
    if (error.type === 'entity.too.large') {
      return { status: 413, body: { code: 'body_too_large', message: error.message, field: 'body', rule: 'size limit' } };
    }
    if (error.status >= 400 && error.status < 500) {
      return { status: error.status, body: { code: error.type.replace(/\W+/g, '_'), message: error.message, field: 'body', rule: error.type } };
    }
  }
  if (isRetriable(error) || classifyDatabaseError(error).retriable) {
    response.set('Retry-After', String(retryAfterSeconds));
    return {
      status: 503,
      body: { code: 'unavailable', message: 'A dependency is unavailable; nothing was recorded. Retry later.' },
    };
  }
  const message = error instanceof PipelineError ? error.message : 'Internal error';
  return { status: 500, body: { code: 'internal_error', message } };
}
