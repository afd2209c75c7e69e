// The simulator's control API, for tests and demos only (no API key; the simulator listens on
// loopback): faults on demand, planned outcomes, pair ranges, and the simulator's own records.
//   POST   /simulator/faults    {status: 429|500|502|503, count, path?}   the next `count` API requests
//                                                                          (to `path` only, if given) get that status
//                               {delayMs, count, path?}                   … are answered `delayMs` late
//                               {kind: "timeout-after-create", count, hangMs?}
//                                                                          POST /v2/exchange creates the exchange, then
//                                                                          the connection is cut after hangMs (default 60 s)
//   POST   /simulator/outcomes  {match: {userId?, payoutAddress?, toCurrency?, fromAmount?}, outcome: "failed"|"refunded"|"verifying",
//                                reason?, verifyingMs?}                   the next exchange created that matches ends
//                                                                          that way (verifying: held, then carries on)
//   POST   /simulator/pairs     {fromCurrency, fromNetwork, toCurrency, toNetwork, minAmount, maxAmount|null}
//   DELETE /simulator/faults    clears every fault, outcome and range override
//   GET    /simulator/faults    what is set
//   GET    /simulator/exchanges?userId=   the simulator's records (API view plus plannedOutcome, endReason, payinSender)
import express, { type Router } from 'express';
import { z } from 'zod';
import { Decimal, plainDecimalPattern } from '../../core/money.ts';
import { resolvePair } from './exchange-quote.ts';
import type { ExchangeStore } from './exchange-store.ts';
import { exchangeRecordView } from './simulated-exchange.ts';
import { faultStatuses, type FaultStatus, type SimulatorControls } from './simulator-controls.ts';
import { jsonHandler, numberText, parseBody, SimulatorApiError } from './simulator-json.ts';

export interface ControlRoutesOptions {
  controls: SimulatorControls;
  store: ExchangeStore;
  /** Default length of a planned `verifying`. */
  verifyingMsDefault: number;
}

// Counts and durations are small integers, not money: plain numbers are fine here.
const smallInteger = (max: number) => z.preprocess(numberText, z.coerce.number().int().min(0).max(max));
const count = z.preprocess(numberText, z.coerce.number().int().min(1).max(10_000));
const path = z.string().regex(/^\/v2\/[a-z/-]+$/, 'must be an API path such as /v2/exchange/by-id').optional();

const faultStatus = z.preprocess(
  numberText,
  z.coerce.number().refine((value): value is FaultStatus => (faultStatuses as readonly number[]).includes(value), `must be one of ${faultStatuses.join(', ')}`),
);

const faultSchema = z.union([
  z.object({ status: faultStatus, count, path }).strict(),
  z.object({ delayMs: smallInteger(300_000), count, path }).strict(),
  z.object({ kind: z.literal('timeout-after-create'), count, hangMs: smallInteger(600_000).default(60_000) }).strict(),
]);

const amount = z.preprocess(numberText, z.string().regex(plainDecimalPattern, 'must be a plain decimal').transform((text) => new Decimal(text)));
const outcomeSchema = z
  .object({
    match: z.object({ userId: z.string().min(1).optional(), payoutAddress: z.string().min(1).optional(), toCurrency: z.string().min(1).optional(), fromAmount: amount.optional() }).strict(),
    outcome: z.enum(['failed', 'refunded', 'verifying']),
    reason: z.string().min(1).max(500).optional(),
    verifyingMs: smallInteger(600_000).optional(),
  })
  .strict();

const pairRangeSchema = z
  .object({
    fromCurrency: z.string().min(1),
    fromNetwork: z.string().min(1),
    toCurrency: z.string().min(1),
    toNetwork: z.string().min(1),
    minAmount: amount,
    maxAmount: amount.nullable(),
  })
  .strict();

function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new SimulatorApiError(400, 'not_valid_params', parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'} ${issue.message}`).join('; '));
  }
  return parsed.data;
}

export function createControlRoutes(options: ControlRoutesOptions): Router {
  const { controls, store } = options;
  const router = express.Router();
  router.use(express.raw({ type: () => true, limit: 65_536 }));

  router.post(
    '/faults',
    jsonHandler((request) => {
      const body = parseWith(faultSchema, parseBody(request.body));
      if ('status' in body) controls.addFault({ kind: 'status', status: body.status, path: body.path ?? null }, body.count);
      else if ('delayMs' in body) controls.addFault({ kind: 'delay', delayMs: body.delayMs, path: body.path ?? null }, body.count);
      else controls.addFault({ kind: 'timeout-after-create', hangMs: body.hangMs }, body.count);
      return controls.describe();
    }),
  );

  router.get(
    '/faults',
    jsonHandler(() => controls.describe()),
  );

  router.delete(
    '/faults',
    jsonHandler(() => {
      controls.clear();
      return controls.describe();
    }),
  );

  router.post(
    '/outcomes',
    jsonHandler((request) => {
      const body = parseWith(outcomeSchema, parseBody(request.body));
      controls.addOutcome({
        match: body.match,
        outcome: body.outcome,
        reason: body.reason ?? null,
        verifyingMs: body.verifyingMs ?? options.verifyingMsDefault,
      });
      return controls.describe();
    }),
  );

  router.post(
    '/pairs',
    jsonHandler((request) => {
      const body = parseWith(pairRangeSchema, parseBody(request.body));
      const resolved = resolvePair(body);
      if ('inactive' in resolved) throw new SimulatorApiError(400, 'pair_is_inactive', resolved.inactive);
      if (body.maxAmount !== null && body.maxAmount.lessThan(body.minAmount)) {
        throw new SimulatorApiError(400, 'not_valid_params', 'maxAmount must not be less than minAmount');
      }
      controls.setRange(body, { minAmount: body.minAmount, maxAmount: body.maxAmount });
      return controls.describe();
    }),
  );

  router.get(
    '/exchanges',
    jsonHandler((request) => {
      const { userId } = parseWith(z.object({ userId: z.string().min(1).optional() }), request.query);
      const exchanges = store.list(userId === undefined ? {} : { userId });
      return { count: exchanges.length, exchanges: exchanges.map(exchangeRecordView) };
    }),
  );

  return router;
}
