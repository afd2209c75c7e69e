// Errors of the ChangeNow boundary, and the one table that classifies what ChangeNow answered.
// Callers act on the class: a rejection is final, an unavailable API is a failed attempt with its
// last reason, and an unclear exchange creation must be looked up by userId before anything else.
// No error here carries the API key: messages quote ChangeNow's own words only after scrubbing.
import { PipelineError, ValidationError } from '../../core/errors.ts';
import type { Decimal } from '../../core/money.ts';

/** The endpoints the client calls, as they appear in logs, errors and metric labels. */
export const changeNowEndpoints = {
  minAmount: 'GET /v2/exchange/min-amount',
  range: 'GET /v2/exchange/range',
  estimate: 'GET /v2/exchange/estimated-amount',
  createExchange: 'POST /v2/exchange',
  exchangeById: 'GET /v2/exchange/by-id',
  exchangesByUserId: 'GET /v2/exchanges',
} as const;
export type ChangeNowEndpoint = (typeof changeNowEndpoints)[keyof typeof changeNowEndpoints];

/** Why one attempt failed in a way that another attempt may fix. */
export type TransientReason = 'rate_limited' | 'server_error' | 'network' | 'timeout';

/**
 * Whether ChangeNow may have acted on a failed request. `not_delivered`: refused before anything
 * was sent, or answered 429 — certainly nothing happened. `maybe_delivered`: the request left and
 * no usable answer came back.
 */
export type RequestDelivery = 'not_delivered' | 'maybe_delivered';

/** The root of every ChangeNow error; `endpoint` says which call failed. */
export class ChangeNowError extends PipelineError {
  readonly endpoint: ChangeNowEndpoint;

  constructor(endpoint: ChangeNowEndpoint, message: string, options: { retriable?: boolean; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, { ...options, context: { ...options.context, endpoint } });
    this.endpoint = endpoint;
  }
}

/** One attempt failed transiently (429, 5xx, network, timeout). The client retries these itself. */
export class ChangeNowAttemptError extends ChangeNowError {
  readonly reason: TransientReason;
  readonly delivery: RequestDelivery;
  readonly httpStatus: number | null;
  /** From a 429's Retry-After header: the earliest moment another attempt is welcome. */
  readonly retryAfterMs: number | null;

  constructor(
    endpoint: ChangeNowEndpoint,
    reason: TransientReason,
    details: { delivery: RequestDelivery; httpStatus?: number; retryAfterMs?: number | null; detail: string; cause?: unknown },
  ) {
    super(endpoint, `${endpoint}: ${reason} (${details.detail})`, {
      retriable: true,
      cause: details.cause,
      context: { reason, httpStatus: details.httpStatus ?? null },
    });
    this.reason = reason;
    this.delivery = details.delivery;
    this.httpStatus = details.httpStatus ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

/**
 * The retry budget ran out; `lastReason` is what the final attempt ran into. Not retriable: the
 * budget already was the retry — the caller records the failure with this reason.
 */
export class ChangeNowUnavailableError extends ChangeNowError {
  readonly lastReason: TransientReason;
  readonly attempts: number;

  constructor(endpoint: ChangeNowEndpoint, lastAttempt: ChangeNowAttemptError, attempts: number, budgetMs: number) {
    super(endpoint, `${endpoint}: ChangeNow unavailable after ${attempts} attempt(s) within ${budgetMs} ms; last: ${lastAttempt.message}`, {
      retriable: false,
      cause: lastAttempt,
      context: { lastReason: lastAttempt.reason, attempts, budgetMs },
    });
    this.lastReason = lastAttempt.reason;
    this.attempts = attempts;
  }
}

/** The error codes ChangeNow documents for this API subset; others are passed through as text. */
export const knownRejectionCodes = [
  'unauthorized',
  'not_found',
  'not_valid_params',
  'out_of_range',
  'pair_is_inactive',
  'deposit_too_small',
] as const;
export type KnownRejectionCode = (typeof knownRejectionCodes)[number];

/** ChangeNow refused the request (a 4xx other than 429). Sending it again cannot help. */
export class ChangeNowRejectedError extends ChangeNowError {
  readonly httpStatus: number;
  /** ChangeNow's `error` field, e.g. `out_of_range`; `unknown` when the body had none. */
  readonly code: KnownRejectionCode | (string & {});
  readonly apiMessage: string;

  constructor(endpoint: ChangeNowEndpoint, httpStatus: number, code: string, apiMessage: string) {
    super(endpoint, `${endpoint}: rejected with HTTP ${httpStatus} ${code}${apiMessage === '' ? '' : `: ${apiMessage}`}`, {
      retriable: false,
      context: { httpStatus, code },
    });
    this.httpStatus = httpStatus;
    this.code = code;
    this.apiMessage = apiMessage;
  }
}

export interface ResponseProblem {
  field: string;
  problem: string;
}

/** A 2xx answer that does not match the contract; `field` names the first offending field. */
export class ChangeNowResponseInvalidError extends ChangeNowError {
  readonly field: string;
  readonly problems: readonly ResponseProblem[];

  constructor(endpoint: ChangeNowEndpoint, problems: readonly ResponseProblem[], context: Record<string, unknown> = {}) {
    const [first = { field: '(body)', problem: 'invalid' }] = problems;
    const listed = problems
      .slice(0, 5)
      .map((entry) => `${entry.field}: ${entry.problem}`)
      .join('; ');
    super(endpoint, `${endpoint}: invalid response field ${first.field} (${listed})`, { retriable: false, context: { ...context, field: first.field } });
    this.field = first.field;
    this.problems = problems;
  }
}

/**
 * POST /v2/exchange left but its answer was lost (timeout, dropped connection, 5xx, an unreadable
 * 200): ChangeNow may or may not have created the exchange. Never create again on this error —
 * look the exchange up by `userId` (our command id) first, and create only if none exists.
 */
export class ExchangeOutcomeUnclearError extends ChangeNowError {
  readonly userId: string;

  constructor(userId: string, detail: string, cause: unknown) {
    super(changeNowEndpoints.createExchange, `${changeNowEndpoints.createExchange}: outcome unclear for userId ${userId} (${detail}); look the exchange up by userId before creating again`, {
      retriable: false,
      cause,
      context: { userId },
    });
    this.userId = userId;
  }
}

export type RangeBound = 'below_minimum' | 'above_maximum';

/** An amount outside the pair's range, caught before ChangeNow is asked to exchange it. */
export class ExchangeAmountOutOfRangeError extends ValidationError {
  readonly bound: RangeBound;
  readonly amount: Decimal;
  readonly limit: Decimal;

  constructor(bound: RangeBound, amount: Decimal, limit: Decimal) {
    const relation = bound === 'below_minimum' ? 'below the minimum' : 'above the maximum';
    super('fromAmount', bound, `amount ${amount.toFixed()} is ${relation} ${limit.toFixed()} of the pair`, {
      context: { amount: amount.toFixed(), limit: limit.toFixed() },
    });
    this.bound = bound;
    this.amount = amount;
    this.limit = limit;
  }
}

/** How ChangeNow's HTTP status classifies an answer; 2xx is read, the rest become errors. */
export type ResponseClass =
  | { kind: 'success' }
  | { kind: 'transient'; reason: TransientReason; delivery: RequestDelivery }
  | { kind: 'rejected' };

/**
 * The classification table. A 429 means ChangeNow turned the request away unread (safe to send
 * again, even a POST); a 5xx may come after the work was done, so a POST that got one is unclear.
 * Redirects are rejected rather than followed: fetch would forward the API key header to wherever
 * the redirect points.
 */
export function classifyHttpStatus(status: number): ResponseClass {
  if (status >= 200 && status < 300) return { kind: 'success' };
  if (status === 429) return { kind: 'transient', reason: 'rate_limited', delivery: 'not_delivered' };
  if (status >= 500) return { kind: 'transient', reason: 'server_error', delivery: 'maybe_delivered' };
  return { kind: 'rejected' };
}

/** Network error codes raised before a single byte of the request could leave. */
const notDeliveredNetworkCodes: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Classifies a fetch that threw: our timeout, a refused connection, or a connection lost mid-way. */
export function classifyFetchFailure(error: unknown, timedOut: boolean): { reason: TransientReason; delivery: RequestDelivery; code: string | null } {
  if (timedOut) return { reason: 'timeout', delivery: 'maybe_delivered', code: null };
  const code = networkErrorCode(error);
  return { reason: 'network', delivery: code !== null && notDeliveredNetworkCodes.has(code) ? 'not_delivered' : 'maybe_delivered', code };
}

function networkErrorCode(error: unknown): string | null {
  // undici wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return null;
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds from `nowMs`. */
export function parseRetryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1_000;
  const dateMs = Date.parse(text);
  if (Number.isNaN(dateMs)) return null;
  return Math.max(0, dateMs - nowMs);
}
