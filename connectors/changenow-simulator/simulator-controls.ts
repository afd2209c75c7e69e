// What tests set on the simulator's control API, pure and in memory: HTTP faults for the next N
// API requests, outcomes for the next matching exchange, and per-pair range overrides. Each fault
// and outcome is used up as it applies, so a test gets exactly the burst it asked for.
import type { Decimal } from '../../core/money.ts';
import type { CurrencyPair, PairRange } from './exchange-quote.ts';
import type { PlannedOutcome, PlannedOutcomeKind } from './simulated-exchange.ts';

export const faultStatuses = [429, 500, 502, 503] as const;
export type FaultStatus = (typeof faultStatuses)[number];

/** `path`: only requests to exactly this path (e.g. `/v2/exchange/by-id`); null: every API request. */
export type HttpFault =
  | { readonly kind: 'status'; readonly status: FaultStatus; readonly path: string | null }
  | { readonly kind: 'delay'; readonly delayMs: number; readonly path: string | null }
  /** POST /v2/exchange creates the exchange, then the response never comes. */
  | { readonly kind: 'timeout-after-create'; readonly hangMs: number };

/** Every field given must match; an absent (or undefined) one matches anything. */
export interface OutcomeMatch {
  readonly userId?: string | undefined;
  readonly payoutAddress?: string | undefined;
  readonly toCurrency?: string | undefined;
  /** The exact amount sent, so a test can aim at its own exchange when others are being created. */
  readonly fromAmount?: Decimal | undefined;
}

export interface OutcomeRequest {
  readonly match: OutcomeMatch;
  readonly outcome: PlannedOutcomeKind;
  readonly reason: string | null;
  readonly verifyingMs: number;
}

export interface ExchangeFacts {
  readonly userId: string | null;
  readonly payoutAddress: string;
  readonly toCurrency: string;
  readonly fromAmount: Decimal;
}

export const createExchangePath = '/v2/exchange';

export interface SimulatorControls {
  addFault(fault: HttpFault, count: number): void;
  /** The fault for this API request, used up; undefined when none applies. */
  takeFault(method: string, path: string): HttpFault | undefined;
  addOutcome(request: OutcomeRequest): void;
  /** The outcome planned for a new exchange, used up; null when none matches. */
  takeOutcome(exchange: ExchangeFacts): PlannedOutcome | null;
  setRange(pair: CurrencyPair, range: PairRange): void;
  rangeOverride(pair: CurrencyPair): PairRange | undefined;
  /** Removes every fault, outcome and range override. */
  clear(): void;
  describe(): { faults: unknown[]; outcomes: unknown[]; ranges: unknown[] };
}

function pairKey(pair: CurrencyPair): string {
  return `${pair.fromCurrency}/${pair.fromNetwork}->${pair.toCurrency}/${pair.toNetwork}`;
}

function faultApplies(fault: HttpFault, method: string, path: string): boolean {
  if (fault.kind === 'timeout-after-create') return method === 'POST' && path === createExchangePath;
  return fault.path === null || fault.path === path;
}

function outcomeMatches(match: OutcomeMatch, exchange: ExchangeFacts): boolean {
  return (
    (match.userId === undefined || match.userId === exchange.userId) &&
    // EVM addresses differ only in checksum casing.
    (match.payoutAddress === undefined || match.payoutAddress.toLowerCase() === exchange.payoutAddress.toLowerCase()) &&
    (match.toCurrency === undefined || match.toCurrency === exchange.toCurrency) &&
    (match.fromAmount === undefined || match.fromAmount.equals(exchange.fromAmount))
  );
}

export function createSimulatorControls(): SimulatorControls {
  let faults: { fault: HttpFault; remaining: number }[] = [];
  let outcomes: OutcomeRequest[] = [];
  const ranges = new Map<string, { pair: CurrencyPair; range: PairRange }>();

  return {
    addFault(fault, count) {
      faults.push({ fault, remaining: count });
    },
    takeFault(method, path) {
      const entry = faults.find((candidate) => candidate.remaining > 0 && faultApplies(candidate.fault, method, path));
      if (entry === undefined) return undefined;
      entry.remaining -= 1;
      faults = faults.filter((candidate) => candidate.remaining > 0);
      return entry.fault;
    },
    addOutcome(request) {
      outcomes.push(request);
    },
    takeOutcome(exchange) {
      const index = outcomes.findIndex((request) => outcomeMatches(request.match, exchange));
      const request = outcomes[index];
      if (request === undefined) return null;
      outcomes = outcomes.filter((_, position) => position !== index);
      return { outcome: request.outcome, reason: request.reason, verifyingMs: request.verifyingMs };
    },
    setRange(pair, range) {
      ranges.set(pairKey(pair), { pair, range });
    },
    rangeOverride(pair) {
      return ranges.get(pairKey(pair))?.range;
    },
    clear() {
      faults = [];
      outcomes = [];
      ranges.clear();
    },
    describe() {
      const amount = (value: Decimal | null): string | null => value?.toFixed() ?? null;
      return {
        faults: faults.map(({ fault, remaining }) => ({ ...fault, remaining })),
        outcomes: outcomes.map((request) => ({ ...request, match: { ...request.match, fromAmount: request.match.fromAmount?.toFixed() } })),
        ranges: [...ranges.values()].map(({ pair, range }) => ({ ...pair, minAmount: amount(range.minAmount), maxAmount: amount(range.maxAmount) })),
      };
    },
  };
}
