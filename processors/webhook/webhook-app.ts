// The HTTP shell of the webhook: reads the raw body, checks the signature, validates, and hands
// the notification to the intake. Every rejection is a 4xx JSON body naming the field and rule;
// a dependency that is down is a 503 with Retry-After; only a bug is a 500.
import express, { type Express, type Request, type Response } from 'express';
import { Counter, Histogram } from 'prom-client';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { mountOperationsRoutes, type ReadinessProbe } from '../../core/http/operations-routes.ts';
import {
  mountErrorHandlers,
  parseJsonBody,
  rejection,
  requireJsonContentType,
  toHttpError,
  type HttpError,
} from '../../core/http/http-errors.ts';
import { createRequestRateLimit } from '../../core/http/rate-limit.ts';
import { isValidIpnSignature } from './ipn-signature.ts';
import { IpnValidationError, validateIpn, type IpnLimits } from './ipn-notification.ts';
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
  /** Per source, on the IPN route (WEBHOOK_RATE_LIMIT_PER_MINUTE). */
  rateLimitPerMinute: number;
  /** False when /metrics is served on WEBHOOK_METRICS_PORT instead of the public port. */
  serveMetrics?: boolean;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

export function createWebhookApp(options: WebhookAppOptions): Express {
  const { log } = options;
  const errorOptions = { retryAfterSeconds: options.retryAfterSeconds, mapError: mapWebhookError };
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
    ...(options.serveMetrics === undefined ? {} : { serveMetrics: options.serveMetrics }),
  });

  app.use(ipnPath, createRequestRateLimit({ requestsPerMinute: options.rateLimitPerMinute }));
  app.post(
    ipnPath,
    requireJsonContentType('Send the IPN as application/json.'),
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
        const body = parseJsonBody(request.body);
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
        const { status, body } = toHttpError(error, errorOptions, response);
        if (status >= 500) log.error({ err: error, correlationId }, 'IPN not accepted');
        else log.warn({ correlationId, status, error: body }, 'IPN rejected');
        finish(body.code, status, { error: body });
      }
    },
  );

  // Errors raised before our handler ran: body-parser's size limit, bad encodings, aborted uploads.
  mountErrorHandlers(app, { ...errorOptions, onError: (body) => outcomes.inc({ outcome: body.code }) });

  return app;
}

function mapWebhookError(error: unknown): HttpError | undefined {
  if (error instanceof IpnValidationError) {
    return {
      status: 422,
      body: { code: 'validation_failed', message: error.message, field: error.field, rule: error.rule, problems: error.problems },
    };
  }
  if (error instanceof ConflictingPaymentError) {
    return { status: 409, body: { code: 'conflicting_payment', message: error.message, field: 'payment_id', rule: 'same payment, same amounts' } };
  }
  return undefined;
}
