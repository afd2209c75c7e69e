// The ChangeNow API v2 subset the pipeline uses (see connectors/changenow/changenow-api.ts for the
// client's side of the same contract):
//   GET  /v2/exchange/min-amount        pair → minAmount
//   GET  /v2/exchange/range             pair → minAmount, maxAmount (null: no maximum)
//   GET  /v2/exchange/estimated-amount  pair + fromAmount → toAmount net of the exchange fee and
//                                       of withdrawalFee (the network fee, in the to-currency)
//   POST /v2/exchange                   creates an exchange and answers with its pay-in address
//   GET  /v2/exchange/by-id?id=         the exchange with its status, amounts and hashes (404 if unknown)
//   GET  /v2/exchanges?userId=          the partner's exchanges, filtered by the userId given at creation
// Every request needs the x-changenow-api-key header (401 otherwise). Amounts are JSON numbers;
// errors are `{"error": code, "message"}` with ChangeNow's codes: not_valid_params, out_of_range,
// pair_is_inactive, deposit_too_small (400), unauthorized (401), not_found (404),
// too_many_requests (429, Retry-After in seconds), internal_error (5xx).
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { Decimal, plainDecimalPattern } from '../../core/money.ts';
import type { CurrencyPair } from './exchange-quote.ts';
import { exchangeView, type SimulatedExchange } from './simulated-exchange.ts';
import type { HttpFault, SimulatorControls } from './simulator-controls.ts';
import { jsonHandler, numberText, parseBody, sendError, sendJson, SimulatorApiError } from './simulator-json.ts';
import type { SimulatorService } from './simulator-service.ts';

export const apiKeyHeader = 'x-changenow-api-key';
export const exchangeFlow = 'standard';

export interface ChangeNowApiRoutesOptions {
  apiKey: string;
  service: SimulatorService;
  controls: SimulatorControls;
  /** Cuts, after the given time, a request the `timeout-after-create` fault leaves unanswered. */
  hangUp: (request: Request, afterMs: number) => void;
}

const ticker = z.string().regex(/^[a-z0-9]{2,20}$/, 'must be a lower-case ticker');
const pairFields = {
  fromCurrency: ticker,
  fromNetwork: ticker,
  toCurrency: ticker,
  toNetwork: ticker,
  flow: z.literal(exchangeFlow, { errorMap: () => ({ message: `must be "${exchangeFlow}" (fixed-rate is not simulated)` }) }).default(exchangeFlow),
};
const decimalAmount = z.preprocess(
  numberText,
  z
    .string({ invalid_type_error: 'must be a number' })
    .regex(plainDecimalPattern, 'must be a plain positive decimal')
    .transform((text) => new Decimal(text))
    .refine((value) => value.greaterThan(0), 'must be positive'),
);
const pairQuerySchema = z.object(pairFields);
const estimateQuerySchema = z.object({ ...pairFields, fromAmount: decimalAmount, type: z.literal('direct').default('direct') });
const optionalText = z.string().min(1).max(256).nullish();
const createBodySchema = z.object({
  ...pairFields,
  fromAmount: decimalAmount,
  address: z.string().min(1).max(256),
  extraId: optionalText,
  refundAddress: optionalText,
  refundExtraId: optionalText,
  userId: optionalText,
  payload: z.record(z.unknown()).nullish(),
  contactEmail: optionalText,
  type: z.literal('direct').default('direct'),
  rateId: optionalText,
});
const listQuerySchema = z.object({
  userId: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(100),
  offset: z.coerce.number().int().min(0).default(0),
  sortDirection: z.enum(['ASC', 'DESC']).default('DESC'),
});

function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'} ${issue.message}`);
    throw new SimulatorApiError(400, 'not_valid_params', problems.join('; '));
  }
  return parsed.data;
}

function pairOf(query: CurrencyPair & { flow: string }): CurrencyPair {
  return { fromCurrency: query.fromCurrency, fromNetwork: query.fromNetwork, toCurrency: query.toCurrency, toNetwork: query.toNetwork };
}

function isKeyValid(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const left = Buffer.from(given);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}

const faultMessages: Record<number, string> = {
  429: 'Too many requests (simulated)',
  500: 'Internal error (simulated)',
  502: 'Bad gateway (simulated)',
  503: 'Service unavailable (simulated)',
};

/** Answers a request with its fault; true when the request is done. */
async function applyFault(fault: HttpFault | undefined, response: Response): Promise<boolean> {
  if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  if (fault?.kind !== 'status') return false;
  if (fault.status === 429) response.set('Retry-After', '1');
  sendJson(response, fault.status, { error: fault.status === 429 ? 'too_many_requests' : 'internal_error', message: faultMessages[fault.status] });
  return true;
}

export function createChangeNowApiRoutes(options: ChangeNowApiRoutesOptions): Router {
  const { service, controls } = options;
  const router = express.Router();
  const exchangeFaults = new WeakMap<Request, HttpFault>();

  router.use(async (request: Request, response: Response, next: NextFunction) => {
    if (!isKeyValid(request.get(apiKeyHeader), options.apiKey)) {
      sendError(response, new SimulatorApiError(401, 'unauthorized', `Missing or invalid ${apiKeyHeader}`));
      return;
    }
    const fault = controls.takeFault(request.method, `${request.baseUrl}${request.path}`);
    if (fault?.kind === 'timeout-after-create') exchangeFaults.set(request, fault);
    if (!(await applyFault(fault, response))) next();
  });

  router.get(
    '/exchange/min-amount',
    jsonHandler((request) => {
      const query = parseWith(pairQuerySchema, request.query);
      return { ...pairOf(query), flow: query.flow, minAmount: service.range(pairOf(query)).minAmount };
    }),
  );

  router.get(
    '/exchange/range',
    jsonHandler((request) => {
      const query = parseWith(pairQuerySchema, request.query);
      const range = service.range(pairOf(query));
      return { ...pairOf(query), flow: query.flow, minAmount: range.minAmount, maxAmount: range.maxAmount };
    }),
  );

  router.get(
    '/exchange/estimated-amount',
    jsonHandler((request) => {
      const query = parseWith(estimateQuerySchema, request.query);
      const quoted = service.estimate(pairOf(query), query.fromAmount);
      return {
        ...pairOf(query),
        flow: query.flow,
        type: query.type,
        rateId: null,
        validUntil: null,
        transactionSpeedForecast: '1-5',
        warningMessage: null,
        depositFee: quoted.depositFee,
        withdrawalFee: quoted.withdrawalFee,
        fromAmount: quoted.fromAmount,
        toAmount: quoted.toAmount,
      };
    }),
  );

  router.post('/exchange', express.raw({ type: () => true, limit: 65_536 }), (request: Request, response: Response) => {
    let exchange: SimulatedExchange;
    try {
      const body = parseWith(createBodySchema, parseBody(request.body));
      exchange = service.createExchange({
        ...pairOf(body),
        fromAmount: body.fromAmount,
        address: body.address,
        refundAddress: body.refundAddress ?? null,
        userId: body.userId ?? null,
        payload: body.payload ?? null,
      });
    } catch (error) {
      if (error instanceof SimulatorApiError) return sendError(response, error);
      throw error;
    }
    const fault = exchangeFaults.get(request);
    if (fault?.kind === 'timeout-after-create') {
      // Created, but the caller never learns it: the unclear outcome it must resolve by lookup.
      options.hangUp(request, fault.hangMs);
      return;
    }
    sendJson(response, 200, {
      id: exchange.id,
      fromAmount: exchange.expectedAmountFrom,
      toAmount: exchange.expectedAmountTo,
      flow: exchangeFlow,
      type: 'direct',
      payinAddress: exchange.payinAddress,
      payoutAddress: exchange.payoutAddress,
      payinExtraId: null,
      payoutExtraId: null,
      fromCurrency: exchange.pair.from.currency,
      fromNetwork: exchange.pair.from.network,
      toCurrency: exchange.pair.to.currency,
      toNetwork: exchange.pair.to.network,
      refundAddress: exchange.refundAddress,
      refundExtraId: null,
    });
  });

  router.get(
    '/exchange/by-id',
    jsonHandler((request) => {
      const { id } = parseWith(z.object({ id: z.string().min(1).max(64) }), request.query);
      return exchangeView(service.findExchange(id));
    }),
  );

  router.get(
    '/exchanges',
    jsonHandler((request) => {
      const query = parseWith(listQuerySchema, request.query);
      const matching = service.listExchanges(query.userId === undefined ? {} : { userId: query.userId });
      const ordered = query.sortDirection === 'ASC' ? matching : [...matching].reverse();
      // count: every matching exchange; exchanges: the requested page of them.
      return { count: matching.length, exchanges: ordered.slice(query.offset, query.offset + query.limit).map(exchangeView) };
    }),
  );

  return router;
}
