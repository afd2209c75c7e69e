// The ChangeNow API v2 subset the pipeline uses, as types and zod schemas — the same contract the
// local simulator implements. Pure: no I/O. Amounts arrive as JSON numbers and are read from
// their exact text (the body is parsed with lossless-json) into Decimal, never through a JS number;
// amounts we send are written from the Decimal's text the same way.
import { z } from 'zod';
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';
import { ValidationError } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';
import { ChangeNowResponseInvalidError, ExchangeAmountOutOfRangeError, type ChangeNowEndpoint, type ResponseProblem } from './changenow-errors.ts';

/** Both sides of an exchange. USDT ERC-20 is currency `usdt` on network `eth`. */
export interface CurrencyPair {
  readonly fromCurrency: string;
  readonly fromNetwork: string;
  readonly toCurrency: string;
  readonly toNetwork: string;
}

/** Floating rate; the pipeline never uses fixed-rate exchanges. */
export const exchangeFlow = 'standard';
/** The amount given is what is sent (not what should arrive). */
export const exchangeType = 'direct';

export const exchangeStatuses = ['new', 'waiting', 'confirming', 'exchanging', 'sending', 'finished', 'failed', 'refunded', 'verifying'] as const;
export type ExchangeStatus = (typeof exchangeStatuses)[number];
export const terminalExchangeStatuses: ReadonlySet<ExchangeStatus> = new Set(['finished', 'failed', 'refunded']);

export function isTerminalExchangeStatus(status: ExchangeStatus): boolean {
  return terminalExchangeStatuses.has(status);
}

export interface ExchangeRange {
  readonly minAmount: Decimal;
  /** null: ChangeNow sets no maximum for the pair. */
  readonly maxAmount: Decimal | null;
}

export interface EstimateRequest extends CurrencyPair {
  readonly fromAmount: Decimal;
}

export interface ExchangeEstimate extends CurrencyPair {
  readonly fromAmount: Decimal;
  /** What arrives, net of ChangeNow's fee and of `withdrawalFee`. */
  readonly toAmount: Decimal;
  /** In the from-currency. */
  readonly depositFee: Decimal;
  /** In the to-currency. */
  readonly withdrawalFee: Decimal;
  readonly transactionSpeedForecast: string | null;
  readonly warningMessage: string | null;
}

export interface CreateExchangeRequest extends CurrencyPair {
  readonly fromAmount: Decimal;
  /** Where ChangeNow pays the exchanged amount out. */
  readonly address: string;
  readonly refundAddress?: string;
  /** Our idempotency key (the command id): the exchange is found by it after an unclear outcome. */
  readonly userId: string;
  readonly payload: Readonly<Record<string, string>>;
}

export interface CreatedExchange extends CurrencyPair {
  readonly id: string;
  readonly fromAmount: Decimal;
  readonly toAmount: Decimal;
  /** Where the from-amount has to be sent. */
  readonly payinAddress: string;
  readonly payoutAddress: string;
  readonly payinExtraId: string | null;
  readonly payoutExtraId: string | null;
  readonly refundAddress: string | null;
}

export interface Exchange extends CurrencyPair {
  readonly id: string;
  readonly status: ExchangeStatus;
  readonly expectedAmountFrom: Decimal | null;
  readonly expectedAmountTo: Decimal | null;
  /** null until the pay-in is received. */
  readonly amountFrom: Decimal | null;
  /** null until the payout is sent. */
  readonly amountTo: Decimal | null;
  readonly payinAddress: string;
  readonly payoutAddress: string;
  readonly payinExtraId: string | null;
  readonly payoutExtraId: string | null;
  readonly refundAddress: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly depositReceivedAt: Date | null;
  readonly payinHash: string | null;
  readonly payoutHash: string | null;
  readonly refundHash: string | null;
  readonly refundAmount: Decimal | null;
  readonly userId: string | null;
  readonly payload: Readonly<Record<string, unknown>> | null;
}

// --- Requests ----------------------------------------------------------------------------------

const tickerPattern = /^[a-z0-9]{2,20}$/;
const textMaxLength = 256;

/** Checks what we are about to send, so a caller's mistake is named here and not by ChangeNow. */
export function assertValidPair(pair: CurrencyPair): void {
  for (const field of ['fromCurrency', 'fromNetwork', 'toCurrency', 'toNetwork'] as const) {
    if (!tickerPattern.test(pair[field])) {
      throw new ValidationError(field, 'ticker', `${field} must be a lower-case ticker (2–20 letters or digits), got ${JSON.stringify(pair[field])}`);
    }
  }
}

export function assertValidFromAmount(amount: Decimal): void {
  if (!amount.isFinite() || !amount.isPositive() || amount.isZero()) {
    throw new ValidationError('fromAmount', 'positive', `fromAmount must be a positive decimal, got ${amount.toFixed()}`);
  }
}

export function assertValidCreateExchange(request: CreateExchangeRequest): void {
  assertValidPair(request);
  assertValidFromAmount(request.fromAmount);
  const texts: [string, string | undefined][] = [
    ['address', request.address],
    ['refundAddress', request.refundAddress],
    ['userId', request.userId],
  ];
  for (const [field, value] of texts) {
    if (value !== undefined && (value.length === 0 || value.length > textMaxLength)) {
      throw new ValidationError(field, 'length', `${field} must be 1–${textMaxLength} characters`);
    }
  }
}

/** Rejects an amount outside the pair's range before ChangeNow is asked to exchange it. */
export function assertWithinRange(range: ExchangeRange, amount: Decimal): void {
  if (amount.lessThan(range.minAmount)) throw new ExchangeAmountOutOfRangeError('below_minimum', amount, range.minAmount);
  if (range.maxAmount !== null && amount.greaterThan(range.maxAmount)) throw new ExchangeAmountOutOfRangeError('above_maximum', amount, range.maxAmount);
}

export function pairQuery(pair: CurrencyPair): Record<string, string> {
  return {
    fromCurrency: pair.fromCurrency,
    toCurrency: pair.toCurrency,
    fromNetwork: pair.fromNetwork,
    toNetwork: pair.toNetwork,
    flow: exchangeFlow,
  };
}

export function estimateQuery(request: EstimateRequest): Record<string, string> {
  return { ...pairQuery(request), fromAmount: request.fromAmount.toFixed(), type: exchangeType };
}

/** The POST /v2/exchange body; fromAmount is a JSON number written from the Decimal's own digits. */
export function createExchangeBody(request: CreateExchangeRequest): string {
  const body = {
    fromCurrency: request.fromCurrency,
    fromNetwork: request.fromNetwork,
    toCurrency: request.toCurrency,
    toNetwork: request.toNetwork,
    fromAmount: new LosslessNumber(request.fromAmount.toFixed()),
    address: request.address,
    ...(request.refundAddress === undefined ? {} : { refundAddress: request.refundAddress }),
    userId: request.userId,
    payload: request.payload,
    flow: exchangeFlow,
    type: exchangeType,
  };
  const text = stringify(body);
  if (text === undefined) throw new Error('the exchange request could not be written as JSON');
  return text;
}

// --- Responses ---------------------------------------------------------------------------------

/** A JSON number (or, leniently, a numeric string) as ChangeNow writes it, exponent included. */
const jsonNumberPattern = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d{1,4})?$/;

const amount = z.preprocess(
  (value) => (isLosslessNumber(value) ? value.value : value),
  z
    .string({ invalid_type_error: 'must be a decimal number', required_error: 'is missing' })
    .regex(jsonNumberPattern, 'must be a decimal number')
    .transform((text) => new Decimal(text))
    .refine((value) => !value.isNegative(), 'must not be negative'),
);

/** Missing and null both mean "not known yet"; the API omits some fields instead of sending null. */
const nullable = <T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>) => schema.nullish().transform((value): T | null => value ?? null);

const text = z.string({ invalid_type_error: 'must be a string', required_error: 'is missing' }).min(1, 'must not be empty').max(textMaxLength, `at most ${textMaxLength} characters`);
const ticker = z.string({ invalid_type_error: 'must be a string', required_error: 'is missing' }).regex(tickerPattern, 'must be a lower-case ticker');

const timestamp = z
  .string({ invalid_type_error: 'must be an ISO-8601 timestamp', required_error: 'is missing' })
  .transform((value) => new Date(value))
  .refine((date) => !Number.isNaN(date.getTime()), 'must be an ISO-8601 timestamp');

const count = z.preprocess(
  (value) => (isLosslessNumber(value) ? value.value : value),
  z
    .string({ invalid_type_error: 'must be a whole number', required_error: 'is missing' })
    .regex(/^(0|[1-9]\d{0,8})$/, 'must be a whole number below 10^9')
    .transform(Number),
);

// A number is an object too once lossless-json has read it; it must not pass as a payload.
const payload = z.preprocess(
  (value) => (isLosslessNumber(value) ? value.value : value),
  z.record(z.unknown(), { invalid_type_error: 'must be an object' }),
);

const pairFields = { fromCurrency: ticker, fromNetwork: ticker, toCurrency: ticker, toNetwork: ticker };

export const minAmountResponseSchema: z.ZodType<{ minAmount: Decimal } & CurrencyPair, z.ZodTypeDef, unknown> = z.object({ ...pairFields, minAmount: amount });

export const rangeResponseSchema: z.ZodType<ExchangeRange & CurrencyPair, z.ZodTypeDef, unknown> = z.object({
  ...pairFields,
  minAmount: amount,
  maxAmount: nullable(amount),
});

export const estimateResponseSchema: z.ZodType<ExchangeEstimate, z.ZodTypeDef, unknown> = z.object({
  ...pairFields,
  fromAmount: amount,
  toAmount: amount,
  depositFee: amount,
  withdrawalFee: amount,
  transactionSpeedForecast: nullable(z.string({ invalid_type_error: 'must be a string' })),
  warningMessage: nullable(z.string({ invalid_type_error: 'must be a string' })),
});

export const createdExchangeResponseSchema: z.ZodType<CreatedExchange, z.ZodTypeDef, unknown> = z.object({
  ...pairFields,
  id: text,
  fromAmount: amount,
  toAmount: amount,
  payinAddress: text,
  payoutAddress: text,
  payinExtraId: nullable(text),
  payoutExtraId: nullable(text),
  refundAddress: nullable(text),
});

export const exchangeResponseSchema: z.ZodType<Exchange, z.ZodTypeDef, unknown> = z.object({
  ...pairFields,
  id: text,
  status: z.enum(exchangeStatuses, { errorMap: () => ({ message: `must be one of ${exchangeStatuses.join(', ')}` }) }),
  expectedAmountFrom: nullable(amount),
  expectedAmountTo: nullable(amount),
  amountFrom: nullable(amount),
  amountTo: nullable(amount),
  payinAddress: text,
  payoutAddress: text,
  payinExtraId: nullable(text),
  payoutExtraId: nullable(text),
  refundAddress: nullable(text),
  createdAt: timestamp,
  updatedAt: timestamp,
  depositReceivedAt: nullable(timestamp),
  payinHash: nullable(text),
  payoutHash: nullable(text),
  refundHash: nullable(text),
  refundAmount: nullable(amount),
  userId: nullable(text),
  payload: nullable(payload),
});

export const exchangeListResponseSchema: z.ZodType<{ count: number; exchanges: Exchange[] }, z.ZodTypeDef, unknown> = z.object({
  count,
  exchanges: z.array(exchangeResponseSchema, { invalid_type_error: 'must be an array', required_error: 'is missing' }),
});

/** ChangeNow's error body; every field optional because a proxy in front may answer instead. */
export const errorResponseSchema = z.object({
  error: z.string().optional(),
  message: z.string().optional(),
});

/** Parses a body losslessly: every JSON number becomes a LosslessNumber keeping its exact text. */
export function parseJsonLossless(endpoint: ChangeNowEndpoint, body: string): unknown {
  try {
    return parse(body);
  } catch (error) {
    throw new ChangeNowResponseInvalidError(endpoint, [{ field: '(body)', problem: `not JSON: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}

/** Validates a parsed body, naming every field that breaks the contract. */
export function readResponse<T>(endpoint: ChangeNowEndpoint, schema: z.ZodType<T, z.ZodTypeDef, unknown>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems: ResponseProblem[] = result.error.issues.map((issue) => ({
    field: issue.path.length === 0 ? '(body)' : issue.path.join('.'),
    problem: issue.message,
  }));
  throw new ChangeNowResponseInvalidError(endpoint, problems);
}

/** Fields of an answer that differ from what was asked: ChangeNow must echo the pair it priced. */
export function pairMismatches(requested: CurrencyPair, answered: CurrencyPair, fieldPrefix = ''): ResponseProblem[] {
  return (['fromCurrency', 'fromNetwork', 'toCurrency', 'toNetwork'] as const)
    .filter((field) => requested[field] !== answered[field])
    .map((field) => ({ field: `${fieldPrefix}${field}`, problem: `is ${answered[field]}, asked for ${requested[field]}` }));
}

/**
 * Whether ChangeNow will pay out to the address we asked for. EVM addresses compare without case
 * (the checksum is only letter case); every other chain's address is compared exactly.
 */
export function isSameAddress(requested: string, answered: string): boolean {
  if (requested === answered) return true;
  const evmAddress = /^0x[0-9a-fA-F]{40}$/;
  return evmAddress.test(requested) && evmAddress.test(answered) && requested.toLowerCase() === answered.toLowerCase();
}
