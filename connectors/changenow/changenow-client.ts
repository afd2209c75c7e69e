// The typed ChangeNow API v2 client: rate limited by one budget per API key shared by every
// process (rate-budget.ts, a row in PostgreSQL), retrying what is safe to
// retry within a time budget, reading amounts losslessly into Decimal and validating every answer.
//
// Retries. The GETs are idempotent: a 429 (after its Retry-After), a 5xx, a network error or a
// timeout is retried with full-jitter exponential backoff until the retry budget is spent, then
// ChangeNowUnavailableError carries the last reason. Each attempt has its own timeout; the budget
// bounds when the last attempt may start, so a call ends within budget + one request timeout.
//
// POST /v2/exchange is NOT idempotent: it is retried only when ChangeNow certainly created nothing
// — a 429, or a connection refused before the request left. A timeout, a connection lost after
// sending, a 5xx or an unreadable 200 leave it unknown whether the exchange exists, and a blind
// retry could create a second exchange for one command (and a second pay-in). Those end in
// ExchangeOutcomeUnclearError: the caller must look the exchange up by userId (our command id,
// sent with every creation) and create again only when none exists.
//
// The API key lives only in this closure and in the request header. It is never logged, and every
// text that came from outside (ChangeNow's messages, socket errors) is scrubbed of it before it
// becomes part of an error.
import { Counter, Histogram } from 'prom-client';
import type { z } from 'zod';
import { parse } from 'lossless-json';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { Decimal } from '../../core/money.ts';
import { createRetry, type Retry } from '../../core/retry.ts';
import { assertInvariant, ValidationError } from '../../core/errors.ts';
import {
  assertValidCreateExchange,
  assertValidFromAmount,
  assertValidPair,
  createdExchangeResponseSchema,
  createExchangeBody,
  errorResponseSchema,
  estimateQuery,
  estimateResponseSchema,
  exchangeListResponseSchema,
  exchangeResponseSchema,
  isSameAddress,
  minAmountResponseSchema,
  pairMismatches,
  pairQuery,
  parseJsonLossless,
  rangeResponseSchema,
  readResponse,
  type CreatedExchange,
  type CreateExchangeRequest,
  type CurrencyPair,
  type EstimateRequest,
  type Exchange,
  type ExchangeEstimate,
  type ExchangeRange,
} from './changenow-api.ts';
import {
  ChangeNowAttemptError,
  ChangeNowRejectedError,
  ChangeNowResponseInvalidError,
  ChangeNowUnavailableError,
  ExchangeOutcomeUnclearError,
  changeNowEndpoints,
  classifyFetchFailure,
  classifyHttpStatus,
  parseRetryAfterMs,
  type ChangeNowEndpoint,
  type ResponseProblem,
} from './changenow-errors.ts';
import type { CommonQueryMethods } from 'slonik';
import { createSharedRateBudget } from './rate-budget.ts';
import type { RateBudget } from './rate-limiter.ts';

// The client module is the public face of the ChangeNow boundary: its types and the pure range check.
export { assertWithinRange, exchangeStatuses, isTerminalExchangeStatus, terminalExchangeStatuses } from './changenow-api.ts';
export type { CreatedExchange, CreateExchangeRequest, CurrencyPair, EstimateRequest, Exchange, ExchangeEstimate, ExchangeRange, ExchangeStatus } from './changenow-api.ts';

export interface ChangeNowClientOptions {
  /** ChangeNow's API root without a trailing slash, e.g. https://api.changenow.io. */
  baseUrl: string;
  apiKey: string;
  /**
   * Requests per second for this API key, drawn from one budget in PostgreSQL shared by every
   * process and client with the same key (CHANGENOW_RATE_LIMIT_PER_SECOND; all must agree on it).
   */
  rateLimitPerSecond: number;
  /** Where the shared rate budget lives: any pool of the process. */
  db: CommonQueryMethods;
  /** Requests that may leave at once after an idle spell; 1 (the default) spaces them evenly. */
  rateLimitBurst?: number;
  /** Per attempt (CHANGENOW_REQUEST_TIMEOUT). */
  requestTimeoutMs: number;
  /** Total time one call may spend retrying (CHANGENOW_RETRY_BUDGET). */
  retryBudgetMs: number;
  retryDelayInitialMs?: number;
  retryDelayMaxMs?: number;
  retryAttemptsMax?: number;
  /** Larger answers are refused instead of being buffered. */
  responseBytesMax?: number;
  /** Pages of 100 read by findExchangesByUserId before it gives up. */
  exchangeListPagesMax?: number;
  log: Logger;
  metrics?: MetricsRegistry;
}

export interface ChangeNowClient {
  minAmount(pair: CurrencyPair): Promise<Decimal>;
  range(pair: CurrencyPair): Promise<ExchangeRange>;
  estimate(request: EstimateRequest): Promise<ExchangeEstimate>;
  /** Not idempotent; read the module comment on ExchangeOutcomeUnclearError before calling. */
  createExchange(request: CreateExchangeRequest): Promise<CreatedExchange>;
  getExchange(id: string): Promise<Exchange>;
  /** Every exchange created with this userId, oldest first. */
  findExchangesByUserId(userId: string): Promise<Exchange[]>;
}

export const changeNowClientDefaults = {
  rateLimitBurst: 1,
  retryDelayInitialMs: 250,
  retryDelayMaxMs: 10_000,
  retryAttemptsMax: 100,
  responseBytesMax: 4 * 1024 * 1024,
  exchangeListPagesMax: 10,
} as const;

const exchangeListPageSize = 100;
const apiMessageLengthMax = 500;

export interface CallRetryOptions {
  budgetMs: number;
  delayInitialMs: number;
  delayMaxMs: number;
  attemptsMax: number;
  /** Whether this call may send again after this failed attempt (all transient ones for a GET). */
  mayRetry: (error: ChangeNowAttemptError) => boolean;
  onRetry?: (error: ChangeNowAttemptError, attempt: number, delayMs: number) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The retry schedule of one call: core/retry.ts' full-jitter backoff, never sooner than a 429's
 * Retry-After, and no retry at all when that Retry-After would end past the budget. One per call,
 * because it remembers the pending Retry-After between the failure and the sleep.
 */
export function createCallRetry(options: CallRetryOptions): Retry {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepReal;
  const startedAtMs = now();
  let retryAfterMs = 0;
  return createRetry({
    attemptsMax: options.attemptsMax,
    delayInitialMs: options.delayInitialMs,
    delayMaxMs: options.delayMaxMs,
    totalMs: options.budgetMs,
    now,
    ...(options.random === undefined ? {} : { random: options.random }),
    shouldRetry: (error) =>
      error instanceof ChangeNowAttemptError && options.mayRetry(error) && now() - startedAtMs + (error.retryAfterMs ?? 0) <= options.budgetMs,
    onRetry: (error, attempt, delayMs) => {
      assertInvariant(error instanceof ChangeNowAttemptError, 'only attempt errors are retried');
      retryAfterMs = error.retryAfterMs ?? 0;
      options.onRetry?.(error, attempt, Math.max(delayMs, retryAfterMs));
    },
    sleep: (delayMs) => sleep(Math.max(delayMs, retryAfterMs)),
  });
}

interface CallSpec {
  endpoint: ChangeNowEndpoint;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: string;
  /** Only for createExchange: the command id an unclear outcome is reported with. */
  createUserId?: string;
}

export function createChangeNowClient(options: ChangeNowClientOptions): ChangeNowClient {
  const settings = {
    rateLimitBurst: options.rateLimitBurst ?? changeNowClientDefaults.rateLimitBurst,
    retryDelayInitialMs: options.retryDelayInitialMs ?? changeNowClientDefaults.retryDelayInitialMs,
    retryDelayMaxMs: options.retryDelayMaxMs ?? changeNowClientDefaults.retryDelayMaxMs,
    retryAttemptsMax: options.retryAttemptsMax ?? changeNowClientDefaults.retryAttemptsMax,
    responseBytesMax: options.responseBytesMax ?? changeNowClientDefaults.responseBytesMax,
    exchangeListPagesMax: options.exchangeListPagesMax ?? changeNowClientDefaults.exchangeListPagesMax,
  };
  const { apiKey, requestTimeoutMs, retryBudgetMs } = options;
  assertInvariant(apiKey.length > 0, 'the ChangeNow API key must not be empty');
  assertInvariant(Number.isInteger(requestTimeoutMs) && requestTimeoutMs > 0, 'requestTimeoutMs must be a positive integer', { requestTimeoutMs });
  assertInvariant(Number.isInteger(retryBudgetMs) && retryBudgetMs >= 0, 'retryBudgetMs must be a non-negative integer', { retryBudgetMs });
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const limiter: RateBudget = createSharedRateBudget({ db: options.db, apiKey, ratePerSecond: options.rateLimitPerSecond, burst: settings.rateLimitBurst });
  const log = options.log.child({ component: 'changenow-client' });
  const instruments = options.metrics === undefined ? null : createInstruments(options.metrics);

  const scrub = (text: string): string => text.split(apiKey).join('[redacted]');

  async function sendOnce(spec: CallSpec): Promise<unknown> {
    await limiter.acquire();
    const url = new URL(`${baseUrl}${spec.path}`);
    for (const [name, value] of Object.entries(spec.query ?? {})) url.searchParams.set(name, value);
    const signal = AbortSignal.timeout(requestTimeoutMs);
    const stopTimer = instruments?.duration.startTimer({ endpoint: spec.endpoint });
    let outcome = 'ok';
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method: spec.method,
          headers: {
            accept: 'application/json',
            'x-changenow-api-key': apiKey,
            ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(spec.body === undefined ? {} : { body: spec.body }),
          // Following a redirect would send the API key header to wherever it points.
          redirect: 'manual',
          signal,
        });
      } catch (error) {
        const failure = classifyFetchFailure(error, signal.aborted);
        outcome = failure.reason;
        const detail = failure.reason === 'timeout' ? `no answer within ${requestTimeoutMs} ms` : scrub(describeError(error));
        throw new ChangeNowAttemptError(spec.endpoint, failure.reason, { delivery: failure.delivery, detail, cause: scrubbedCause(error, scrub) });
      }

      const responseClass = classifyHttpStatus(response.status);
      let bodyText: string;
      try {
        bodyText = await readBodyText(response, settings.responseBytesMax);
      } catch (error) {
        if (error instanceof ResponseTooLargeError) {
          outcome = 'invalid_response';
          throw new ChangeNowResponseInvalidError(spec.endpoint, [{ field: '(body)', problem: error.message }]);
        }
        if (responseClass.kind === 'rejected') {
          outcome = 'rejected';
          throw new ChangeNowRejectedError(spec.endpoint, response.status, 'unknown', '');
        }
        // The status line arrived, the body did not: the request certainly reached ChangeNow.
        const reason = responseClass.kind === 'transient' ? responseClass.reason : signal.aborted ? 'timeout' : 'network';
        outcome = reason;
        throw new ChangeNowAttemptError(spec.endpoint, reason, {
          delivery: responseClass.kind === 'transient' ? responseClass.delivery : 'maybe_delivered',
          httpStatus: response.status,
          detail: `HTTP ${response.status}, body lost: ${signal.aborted ? `no body within ${requestTimeoutMs} ms` : scrub(describeError(error))}`,
          cause: scrubbedCause(error, scrub),
        });
      }

      if (responseClass.kind === 'transient') {
        outcome = responseClass.reason;
        const retryAfterMs = response.status === 429 ? parseRetryAfterMs(response.headers.get('retry-after'), Date.now()) : null;
        const { code } = readErrorBody(bodyText);
        throw new ChangeNowAttemptError(spec.endpoint, responseClass.reason, {
          delivery: responseClass.delivery,
          httpStatus: response.status,
          retryAfterMs,
          detail: `HTTP ${response.status} ${scrub(code)}${retryAfterMs === null ? '' : `, retry after ${retryAfterMs} ms`}`,
        });
      }
      if (responseClass.kind === 'rejected') {
        outcome = 'rejected';
        const isRedirect = response.status >= 300 && response.status < 400;
        const { code, message } = isRedirect ? { code: 'unexpected_redirect', message: 'ChangeNow answered with a redirect' } : readErrorBody(bodyText);
        throw new ChangeNowRejectedError(spec.endpoint, response.status, scrub(code), scrub(message).slice(0, apiMessageLengthMax));
      }
      try {
        return parseJsonLossless(spec.endpoint, bodyText);
      } catch (error) {
        outcome = 'invalid_response';
        throw error;
      }
    } finally {
      instruments?.requests.inc({ endpoint: spec.endpoint, outcome });
      stopTimer?.();
    }
  }

  async function call(spec: CallSpec): Promise<unknown> {
    const idempotent = spec.createUserId === undefined;
    let attempts = 0;
    const retry = createCallRetry({
      budgetMs: retryBudgetMs,
      delayInitialMs: settings.retryDelayInitialMs,
      delayMaxMs: settings.retryDelayMaxMs,
      attemptsMax: settings.retryAttemptsMax,
      mayRetry: (error) => idempotent || error.delivery === 'not_delivered',
      onRetry: (error, attempt, delayMs) => {
        instruments?.retries.inc({ endpoint: spec.endpoint, reason: error.reason });
        log.warn({ endpoint: spec.endpoint, reason: error.reason, httpStatus: error.httpStatus, attempt, delayMs }, 'ChangeNow call failed; retrying');
      },
    });
    try {
      return await retry((attempt) => {
        attempts = attempt;
        return sendOnce(spec);
      });
    } catch (error) {
      if (spec.createUserId !== undefined) {
        if (error instanceof ChangeNowAttemptError && error.delivery === 'maybe_delivered') {
          log.error({ endpoint: spec.endpoint, userId: spec.createUserId, reason: error.reason }, 'exchange creation outcome unclear');
          throw new ExchangeOutcomeUnclearError(spec.createUserId, error.message, error);
        }
        if (error instanceof ChangeNowResponseInvalidError) {
          log.error({ endpoint: spec.endpoint, userId: spec.createUserId, field: error.field }, 'exchange creation answered unreadably; outcome unclear');
          throw new ExchangeOutcomeUnclearError(spec.createUserId, error.message, error);
        }
      }
      if (error instanceof ChangeNowAttemptError) {
        log.warn({ endpoint: spec.endpoint, reason: error.reason, attempts }, 'ChangeNow call gave up');
        throw new ChangeNowUnavailableError(spec.endpoint, error, attempts, retryBudgetMs);
      }
      throw error;
    }
  }

  async function readPairAnswer<T extends CurrencyPair>(
    endpoint: ChangeNowEndpoint,
    path: string,
    query: Record<string, string>,
    pair: CurrencyPair,
    schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  ): Promise<T> {
    const answer = readResponse(endpoint, schema, await call({ endpoint, method: 'GET', path, query }));
    rejectProblems(endpoint, pairMismatches(pair, answer));
    return answer;
  }

  return {
    async minAmount(pair) {
      assertValidPair(pair);
      const answer = await readPairAnswer(changeNowEndpoints.minAmount, '/v2/exchange/min-amount', pairQuery(pair), pair, minAmountResponseSchema);
      return answer.minAmount;
    },

    async range(pair) {
      assertValidPair(pair);
      const answer = await readPairAnswer(changeNowEndpoints.range, '/v2/exchange/range', pairQuery(pair), pair, rangeResponseSchema);
      return { minAmount: answer.minAmount, maxAmount: answer.maxAmount };
    },

    async estimate(request) {
      assertValidPair(request);
      assertValidFromAmount(request.fromAmount);
      return readPairAnswer(changeNowEndpoints.estimate, '/v2/exchange/estimated-amount', estimateQuery(request), request, estimateResponseSchema);
    },

    async createExchange(request) {
      assertValidCreateExchange(request);
      const endpoint = changeNowEndpoints.createExchange;
      const body = await call({ endpoint, method: 'POST', path: '/v2/exchange', body: createExchangeBody(request), createUserId: request.userId });
      let created: CreatedExchange;
      try {
        created = readResponse(endpoint, createdExchangeResponseSchema, body);
      } catch (error) {
        // ChangeNow answered 200, so the exchange most likely exists, but its id is unreadable.
        throw new ExchangeOutcomeUnclearError(request.userId, error instanceof Error ? error.message : 'unreadable answer', error);
      }
      // An exchange that would pay out elsewhere, or swap another pair, must never be paid into.
      const problems = pairMismatches(request, created);
      if (!isSameAddress(request.address, created.payoutAddress)) problems.push({ field: 'payoutAddress', problem: 'differs from the address asked for' });
      rejectProblems(endpoint, problems, { exchangeId: created.id, userId: request.userId });
      log.info({ exchangeId: created.id, userId: request.userId, fromCurrency: request.fromCurrency, toCurrency: request.toCurrency }, 'exchange created');
      return created;
    },

    async getExchange(id) {
      const endpoint = changeNowEndpoints.exchangeById;
      assertNotEmpty('id', id);
      const exchange = readResponse(endpoint, exchangeResponseSchema, await call({ endpoint, method: 'GET', path: '/v2/exchange/by-id', query: { id } }));
      if (exchange.id !== id) rejectProblems(endpoint, [{ field: 'id', problem: `is ${exchange.id}, asked for ${id}` }]);
      return exchange;
    },

    async findExchangesByUserId(userId) {
      const endpoint = changeNowEndpoints.exchangesByUserId;
      // An empty filter would list every exchange of the partner account.
      assertNotEmpty('userId', userId);
      const found: Exchange[] = [];
      for (let page = 0; page < settings.exchangeListPagesMax; page += 1) {
        const query = { userId, limit: String(exchangeListPageSize), offset: String(page * exchangeListPageSize), sortDirection: 'ASC' };
        const answer = readResponse(endpoint, exchangeListResponseSchema, await call({ endpoint, method: 'GET', path: '/v2/exchanges', query }));
        // Checked again here: an ignored filter would hand us another command's exchange.
        rejectProblems(
          endpoint,
          answer.exchanges.flatMap((exchange, index) =>
            exchange.userId === userId ? [] : [{ field: `exchanges.${page * exchangeListPageSize + index}.userId`, problem: `is ${exchange.userId ?? 'null'}, filtered by ${userId}` }],
          ),
        );
        found.push(...answer.exchanges);
        if (answer.exchanges.length < exchangeListPageSize || found.length >= answer.count) return found;
      }
      throw new ChangeNowResponseInvalidError(endpoint, [{ field: 'count', problem: `more than ${settings.exchangeListPagesMax * exchangeListPageSize} exchanges for one userId` }]);
    },
  };
}

function assertNotEmpty(field: string, value: string): void {
  if (value.length === 0) throw new ValidationError(field, 'not_empty', `${field} must not be empty`);
}

function rejectProblems(endpoint: ChangeNowEndpoint, problems: readonly ResponseProblem[], context: Record<string, unknown> = {}): void {
  if (problems.length > 0) throw new ChangeNowResponseInvalidError(endpoint, problems, context);
}

function readErrorBody(bodyText: string): { code: string; message: string } {
  try {
    const parsed = errorResponseSchema.safeParse(parse(bodyText));
    if (parsed.success) return { code: parsed.data.error ?? 'unknown', message: parsed.data.message ?? '' };
  } catch {
    // A proxy's HTML error page: report the status alone.
  }
  return { code: 'unknown', message: '' };
}

class ResponseTooLargeError extends Error {}

async function readBodyText(response: Response, bytesMax: number): Promise<string> {
  const declaredBytes = Number(response.headers.get('content-length') ?? '0');
  if (declaredBytes > bytesMax) {
    await response.body?.cancel();
    throw new ResponseTooLargeError(`answer of ${declaredBytes} bytes exceeds ${bytesMax}`);
  }
  if (response.body === null) return '';
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  let bytes = 0;
  for await (const chunk of response.body as ReadableStream<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > bytesMax) throw new ResponseTooLargeError(`answer exceeds ${bytesMax} bytes`);
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const code = (current as Error & { code?: unknown }).code;
      parts.push(typeof code === 'string' ? `${current.message} [${code}]` : current.message);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : `a thrown ${typeof current}`);
      current = undefined;
    }
  }
  return parts.join(': ');
}

/** A stand-in for a socket error: its text and code only, scrubbed, with none of its references. */
function scrubbedCause(error: unknown, scrub: (text: string) => string): Error {
  const cause = new Error(scrub(describeError(error)));
  cause.name = error instanceof Error ? error.name : 'Error';
  return cause;
}

function createInstruments(registry: MetricsRegistry) {
  // Several clients may share one registry; a metric is registered once and then reused.
  const requests =
    (registry.getSingleMetric('changenow_requests_total') as Counter<'endpoint' | 'outcome'> | undefined) ??
    new Counter({ name: 'changenow_requests_total', help: 'ChangeNow API attempts by endpoint and outcome', labelNames: ['endpoint', 'outcome'] as const, registers: [registry] });
  const retries =
    (registry.getSingleMetric('changenow_retries_total') as Counter<'endpoint' | 'reason'> | undefined) ??
    new Counter({ name: 'changenow_retries_total', help: 'ChangeNow API attempts retried, by endpoint and reason', labelNames: ['endpoint', 'reason'] as const, registers: [registry] });
  const duration =
    (registry.getSingleMetric('changenow_request_duration_seconds') as Histogram<'endpoint'> | undefined) ??
    new Histogram({
      name: 'changenow_request_duration_seconds',
      help: 'Time of one ChangeNow API attempt, after its rate-limit wait',
      labelNames: ['endpoint'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  return { requests, retries, duration };
}

