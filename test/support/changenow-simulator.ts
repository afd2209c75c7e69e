// Typed helpers for the test stack's ChangeNow simulator: raw API calls (with or without the key),
// its control API (faults, outcomes, ranges, reset) and its own records, amounts as Decimal.
// The control API is documented in connectors/changenow-simulator/control-routes.ts.
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { inject } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { localChangeNowApiKey } from '../../connectors/changenow-simulator/local-api-key.ts';
import { apiKeyHeader } from '../../connectors/changenow-simulator/changenow-api-routes.ts';
import { eventually } from './eventually.ts';

export { localChangeNowApiKey };

export function simulatorUrl(): string {
  return inject('endpoints').changeNowApiUrl;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed losslessly: amounts are LosslessNumber; use amountOf() to read them. */
  readonly body: Record<string, unknown>;
  /** The body as sent. */
  readonly text: string;
}

export interface ApiCallOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  query?: Record<string, string>;
  /** Sent as JSON, written losslessly (LosslessNumber and Decimal as JSON numbers). */
  body?: unknown;
  /** Default: the simulator's development key; null sends none. */
  apiKey?: string | null;
  timeoutMs?: number;
}

const decimalStringifier = { test: (value: unknown) => value instanceof Decimal, stringify: (value: unknown) => (value as Decimal).toFixed() };

/** One HTTP call to the simulator, for tests that look at statuses, headers and bodies as sent. */
export async function callSimulator(path: string, options: ApiCallOptions = {}): Promise<ApiAnswer> {
  const url = new URL(`${simulatorUrl()}${path}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const apiKey = options.apiKey === undefined ? localChangeNowApiKey : options.apiKey;
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(apiKey === null ? {} : { [apiKeyHeader]: apiKey }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: stringify(options.body, null, undefined, [decimalStringifier]) ?? '' }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  const body = text === '' ? {} : parse(text);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error(`${path} answered a non-object: ${text.slice(0, 200)}`);
  return { status: response.status, headers: response.headers, body: body as Record<string, unknown>, text };
}

/** A JSON amount (a number as ChangeNow writes it) as Decimal; null stays null. */
export function amountOf(value: unknown): Decimal | null {
  if (value === null || value === undefined) return null;
  if (!isLosslessNumber(value)) throw new Error(`not a JSON number: ${JSON.stringify(value)}`);
  return new Decimal(value.value);
}

async function control(method: 'POST' | 'DELETE' | 'GET', path: string, body?: unknown): Promise<Record<string, unknown>> {
  const answer = await callSimulator(`/simulator${path}`, { method, ...(body === undefined ? {} : { body }), apiKey: null });
  if (answer.status !== 200) throw new Error(`simulator control ${method} ${path} failed: ${answer.status} ${stringify(answer.body)}`);
  return answer.body;
}

export type SimulatorFault =
  | { status: 429 | 500 | 502 | 503; count: number; path?: string }
  | { delayMs: number; count: number; path?: string }
  | { kind: 'timeout-after-create'; count: number; hangMs?: number };

export async function injectFault(fault: SimulatorFault): Promise<void> {
  await control('POST', '/faults', fault);
}

export interface PlannedOutcomeRequest {
  match: { userId?: string; payoutAddress?: string; toCurrency?: string; fromAmount?: string };
  outcome: 'failed' | 'refunded' | 'verifying';
  reason?: string;
  verifyingMs?: number;
}

export async function planOutcome(request: PlannedOutcomeRequest): Promise<void> {
  await control('POST', '/outcomes', request);
}

export interface PairRangeRequest {
  fromCurrency: string;
  fromNetwork: string;
  toCurrency: string;
  toNetwork: string;
  minAmount: Decimal;
  maxAmount: Decimal | null;
}

export async function setPairRange(request: PairRangeRequest): Promise<void> {
  await control('POST', '/pairs', request);
}

/** Clears every fault, planned outcome and range override (exchanges stay). */
export async function resetSimulator(): Promise<void> {
  await control('DELETE', '/faults');
}

export type ExchangeStatus = 'new' | 'waiting' | 'confirming' | 'exchanging' | 'sending' | 'finished' | 'failed' | 'refunded' | 'verifying';

export interface SimulatorExchange {
  readonly id: string;
  readonly status: ExchangeStatus;
  readonly fromCurrency: string;
  readonly toCurrency: string;
  readonly expectedAmountFrom: Decimal;
  readonly expectedAmountTo: Decimal;
  readonly amountFrom: Decimal | null;
  readonly amountTo: Decimal | null;
  readonly payinAddress: string;
  readonly payoutAddress: string;
  readonly refundAddress: string | null;
  readonly payinHash: string | null;
  readonly payoutHash: string | null;
  readonly refundHash: string | null;
  readonly refundAmount: Decimal | null;
  readonly userId: string | null;
  readonly payload: unknown;
  readonly payinSender: string | null;
  readonly endReason: string | null;
  /** What the control API planned for it (an outcome), or null. */
  readonly plannedOutcome: unknown;
  readonly statusHistory: readonly ExchangeStatus[];
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function toExchange(record: Record<string, unknown>): SimulatorExchange {
  const required = (value: Decimal | null, field: string): Decimal => {
    if (value === null) throw new Error(`simulator record without ${field}`);
    return value;
  };
  return {
    id: String(record['id']),
    status: String(record['status']) as ExchangeStatus,
    fromCurrency: String(record['fromCurrency']),
    toCurrency: String(record['toCurrency']),
    expectedAmountFrom: required(amountOf(record['expectedAmountFrom']), 'expectedAmountFrom'),
    expectedAmountTo: required(amountOf(record['expectedAmountTo']), 'expectedAmountTo'),
    amountFrom: amountOf(record['amountFrom']),
    amountTo: amountOf(record['amountTo']),
    payinAddress: String(record['payinAddress']),
    payoutAddress: String(record['payoutAddress']),
    refundAddress: text(record['refundAddress']),
    payinHash: text(record['payinHash']),
    payoutHash: text(record['payoutHash']),
    refundHash: text(record['refundHash']),
    refundAmount: amountOf(record['refundAmount']),
    userId: text(record['userId']),
    payload: record['payload'],
    payinSender: text(record['payinSender']),
    endReason: text(record['endReason']),
    plannedOutcome: record['plannedOutcome'] ?? null,
    statusHistory: Array.isArray(record['statusHistory']) ? record['statusHistory'].map((status) => String(status) as ExchangeStatus) : [],
  };
}

/** The simulator's own records, oldest first; with a userId only that user's (e.g. one command's). */
export async function simulatorExchanges(userId?: string): Promise<SimulatorExchange[]> {
  const answer = await callSimulator('/simulator/exchanges', { apiKey: null, ...(userId === undefined ? {} : { query: { userId } }) });
  const exchanges = answer.body['exchanges'];
  if (!Array.isArray(exchanges)) throw new Error('the simulator listed no exchanges array');
  return exchanges.map((record) => toExchange(record as Record<string, unknown>));
}

export async function simulatorExchange(id: string): Promise<SimulatorExchange> {
  const found = (await simulatorExchanges()).find((exchange) => exchange.id === id);
  if (found === undefined) throw new Error(`the simulator has no exchange ${id}`);
  return found;
}

/** Waits until the exchange is in one of `statuses` and returns it; fails with its last status. */
export async function waitForExchangeStatus(id: string, statuses: readonly ExchangeStatus[], timeoutMs = 30_000): Promise<SimulatorExchange> {
  return eventually(
    async () => {
      const exchange = await simulatorExchange(id);
      if (!statuses.includes(exchange.status)) throw new Error(`exchange ${id} is ${exchange.status}, waiting for ${statuses.join(' or ')}`);
      return exchange;
    },
    { timeoutMs },
  );
}
